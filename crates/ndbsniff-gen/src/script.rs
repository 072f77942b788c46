//! Conversation scripts: what each side says, in order, independent of how it is carried.
//!
//! Owns: the [`Script`] / [`Message`] data model shared by the conversation library, the
//! schedulers and the command-line tool. Must never decide segmentation, addresses or timing
//! beyond a per-message delay: that is the scheduler's job.

use super::Side;

/// Transport protocol of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// A TCP connection (handshake, byte streams, close).
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// How a TCP conversation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Close {
    /// Orderly close: `by` sends FIN, the peer answers FIN, `by` sends the last ACK.
    Fin {
        /// Side that closes first.
        by: Side,
    },
    /// Abortive close: `by` sends RST|ACK.
    Rst {
        /// Side that resets.
        by: Side,
    },
    /// The capture ends while the connection is still open.
    None,
}

/// One application-level write (TCP) or one datagram (UDP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sender.
    pub from: Side,
    /// Bytes written.
    pub bytes: Vec<u8>,
    /// Idle time before this message, in milliseconds (0: the scheduler's small step). An
    /// empty message sends nothing; its idle time is added before whatever follows.
    pub delay_ms: u32,
}

/// A whole conversation: messages in the order they are written, and how it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// TCP or UDP.
    pub proto: Proto,
    /// Messages in order.
    pub messages: Vec<Message>,
    /// How the connection ends (ignored for UDP).
    pub close: Close,
}

impl Script {
    /// An empty TCP script closed by the client with FIN.
    pub fn tcp() -> Self {
        Script {
            proto: Proto::Tcp,
            messages: Vec::new(),
            close: Close::Fin { by: Side::Client },
        }
    }

    /// An empty UDP script.
    pub fn udp() -> Self {
        Script {
            proto: Proto::Udp,
            messages: Vec::new(),
            close: Close::None,
        }
    }

    /// Appends a client message.
    pub fn client(self, bytes: impl AsRef<[u8]>) -> Self {
        self.say(Side::Client, bytes, 0)
    }

    /// Appends a server message.
    pub fn server(self, bytes: impl AsRef<[u8]>) -> Self {
        self.say(Side::Server, bytes, 0)
    }

    /// Appends a message from `from` after `delay_ms` milliseconds of silence.
    pub fn say(mut self, from: Side, bytes: impl AsRef<[u8]>, delay_ms: u32) -> Self {
        self.messages.push(Message {
            from,
            bytes: bytes.as_ref().to_vec(),
            delay_ms,
        });
        self
    }

    /// Sets how the connection ends.
    pub fn closed(mut self, close: Close) -> Self {
        self.close = close;
        self
    }

    /// All bytes sent by `side`, concatenated in order.
    pub fn stream(&self, side: Side) -> Vec<u8> {
        let mut v = Vec::new();
        for m in self.messages.iter().filter(|m| m.from == side) {
            v.extend_from_slice(&m.bytes);
        }
        v
    }

    /// Byte offset in `side`'s stream where message `index` would start (the stream length
    /// when `index` is past the end).
    pub fn offset_of_message(&self, side: Side, index: usize) -> usize {
        self.messages
            .iter()
            .take(index)
            .filter(|m| m.from == side)
            .map(|m| m.bytes.len())
            .sum()
    }
}

/// A named entry of a conversation catalogue.
#[derive(Clone, Copy, Debug)]
pub struct Conversation {
    /// Short name (used in file names and on the command line).
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Builds the script.
    pub build: fn() -> Script,
}
