//! NDB Cluster log event types, as the management server streams them to event listeners
//! (`listen event`).
//!
//! The numbers and names are those of `enum Ndb_logevent_type` in
//! `storage/ndb/include/mgmapi/ndb_logevent.h` of MySQL NDB Cluster 8.x (the same values carry
//! on unchanged in later releases), each name written without its `NDB_LE_` prefix and spelled
//! exactly as in the enum (`STTORRYRecieved` included). The enum leaves 61 unused.
//!
//! A listener that asks for `parsable: 1` gets `type=<n>` and can use [`name`] directly. Without
//! it, each event is one line `Node <id>: <text>`, the text made by the event's `getText...`
//! function in `storage/ndb/src/common/debugger/EventLogger.cpp`; [`from_text`] recognises that
//! text by the constant words of those format strings.
//!
//! Must never: panic on any input, or allocate.

/// The largest event type the enum defines (`EventBufferStatus3`).
pub const MAX_TYPE: u32 = 87;

/// Names indexed by event type; `None` where the enum has no value.
const NAMES: [Option<&str>; MAX_TYPE as usize + 1] = [
    Some("Connected"),                 // 0
    Some("Disconnected"),              // 1
    Some("CommunicationClosed"),       // 2
    Some("CommunicationOpened"),       // 3
    Some("GlobalCheckpointStarted"),   // 4
    Some("GlobalCheckpointCompleted"), // 5
    Some("LocalCheckpointStarted"),    // 6
    Some("LocalCheckpointCompleted"),  // 7
    Some("LCPStoppedInCalcKeepGci"),   // 8
    Some("LCPFragmentCompleted"),      // 9
    Some("NDBStartStarted"),           // 10
    Some("NDBStartCompleted"),         // 11
    Some("STTORRYRecieved"),           // 12
    Some("StartPhaseCompleted"),       // 13
    Some("CM_REGCONF"),                // 14
    Some("CM_REGREF"),                 // 15
    Some("FIND_NEIGHBOURS"),           // 16
    Some("NDBStopStarted"),            // 17
    Some("NDBStopAborted"),            // 18
    Some("StartREDOLog"),              // 19
    Some("StartLog"),                  // 20
    Some("UNDORecordsExecuted"),       // 21
    Some("NR_CopyDict"),               // 22
    Some("NR_CopyDistr"),              // 23
    Some("NR_CopyFragsStarted"),       // 24
    Some("NR_CopyFragDone"),           // 25
    Some("NR_CopyFragsCompleted"),     // 26
    Some("NodeFailCompleted"),         // 27
    Some("NODE_FAILREP"),              // 28
    Some("ArbitState"),                // 29
    Some("ArbitResult"),               // 30
    Some("GCP_TakeoverStarted"),       // 31
    Some("GCP_TakeoverCompleted"),     // 32
    Some("LCP_TakeoverStarted"),       // 33
    Some("LCP_TakeoverCompleted"),     // 34
    Some("TransReportCounters"),       // 35
    Some("OperationReportCounters"),   // 36
    Some("TableCreated"),              // 37
    Some("UndoLogBlocked"),            // 38
    Some("JobStatistic"),              // 39
    Some("SendBytesStatistic"),        // 40
    Some("ReceiveBytesStatistic"),     // 41
    Some("TransporterError"),          // 42
    Some("TransporterWarning"),        // 43
    Some("MissedHeartbeat"),           // 44
    Some("DeadDueToHeartbeat"),        // 45
    Some("WarningEvent"),              // 46
    Some("SentHeartbeat"),             // 47
    Some("CreateLogBytes"),            // 48
    Some("InfoEvent"),                 // 49
    Some("MemoryUsage"),               // 50
    Some("ConnectedApiVersion"),       // 51
    Some("SingleUser"),                // 52
    Some("NDBStopCompleted"),          // 53
    Some("BackupStarted"),             // 54
    Some("BackupFailedToStart"),       // 55
    Some("BackupCompleted"),           // 56
    Some("BackupAborted"),             // 57
    Some("EventBufferStatus"),         // 58
    Some("NDBStopForced"),             // 59
    Some("StartReport"),               // 60
    None,                              // 61
    Some("BackupStatus"),              // 62
    Some("RestoreMetaData"),           // 63
    Some("RestoreData"),               // 64
    Some("RestoreLog"),                // 65
    Some("RestoreStarted"),            // 66
    Some("RestoreCompleted"),          // 67
    Some("ThreadConfigLoop"),          // 68
    Some("SubscriptionStatus"),        // 69
    Some("MTSignalStatistics"),        // 70
    Some("LogFileInitStatus"),         // 71
    Some("LogFileInitCompStatus"),     // 72
    Some("RedoStatus"),                // 73
    Some("CreateSchemaObject"),        // 74
    Some("AlterSchemaObject"),         // 75
    Some("DropSchemaObject"),          // 76
    Some("StartReadLCP"),              // 77
    Some("ReadLCPComplete"),           // 78
    Some("RunRedo"),                   // 79
    Some("RebuildIndex"),              // 80
    Some("SavedEvent"),                // 81
    Some("ConnectCheckStarted"),       // 82
    Some("ConnectCheckCompleted"),     // 83
    Some("NodeFailRejected"),          // 84
    Some("EventBufferStatus2"),        // 85
    Some("LCPRestored"),               // 86
    Some("EventBufferStatus3"),        // 87
];

/// The name of event type `event_type` (without the `NDB_LE_` prefix), or `None` for a number
/// the enum does not define.
pub fn name(event_type: u32) -> Option<&'static str> {
    let index = usize::try_from(event_type).ok()?;
    NAMES.get(index).copied().flatten()
}

/// Text patterns and the event type each one means, tried in order; the first match wins.
///
/// In a pattern, `#` stands for a decimal number (one or more digits, optionally after a `-`,
/// since some format strings print with `%d`) and `*` for any bytes, possibly none; every other
/// byte must match itself. Each pattern keeps the constant words of a format string and puts a
/// wildcard where the string prints an argument or a text chosen by one.
///
/// Not recognised, because the text does not tell the type: `TransporterError` and
/// `TransporterWarning` (one text function serves both), `InfoEvent` and `WarningEvent` (the
/// text is free), `EventBufferStatus2` and `EventBufferStatus3` (the same words, told apart
/// only by one space), and `SavedEvent` (it has no text).
const RULES: &[(&[u8], u32)] = &[
    // Connection.
    (b"Node # Connected", 0),
    (b"Node # Disconnected", 1),
    (b"Communication to Node # closed", 2),
    (b"Communication to Node # opened", 3),
    // "API %s" (a version string) in current sources, "API version %d.%d.%d" in old ones.
    (b"Node #: API *", 51),
    // Checkpoints.
    (b"Global checkpoint # started", 4),
    (b"Global checkpoint # completed", 5),
    (b"Local checkpoint # started*", 6),
    (b"Local checkpoint # completed", 7),
    (b"Local Checkpoint stopped in CALCULATED_KEEP_GCI", 8),
    (b"Table ID = #, fragment ID = # has completed LCP*", 9),
    (b"ACC Blocked # and TUP Blocked # times last second", 38),
    (b"Logpart: # head=[*", 73),
    // Start-up and shutdown. The version in brackets is a version string ("mysql-... ndb-...")
    // in current sources, "version %d.%d.%d" in old ones.
    (b"Start initiated (*)", 10),
    (b"Started (*)", 11),
    (b"STTORRY received after restart finished", 12),
    (b"Start phase # completed*", 13),
    (b"CM_REGCONF president = *", 14),
    (b"CM_REGREF from Node # to our Node #. Cause = *", 15),
    (
        b"We are Node # with dynamic ID #, our left neighbour is Node #, our right is Node #",
        16,
    ),
    // "%s shutdown initiated" with "Cluster" or "Node": the only two texts of the type.
    (b"Cluster shutdown initiated", 17),
    (b"Node shutdown initiated", 17),
    (b"Node shutdown aborted", 18),
    // Then ", restarting", ", no start", ", initial", and " Initiated by signal %d.".
    (b"Node shutdown completed*", 53),
    // Then the restart action, the start phase and the error with its explanation.
    (b"Forced node shutdown completed*", 59),
    (b"Node Start completed restore of LCP id: #", 86),
    (b"Node: # StartLog: [*", 19),
    (b"Log part #, start MB #, stop MB #*", 20),
    (b" UNDO *", 21),
    (b"Initial start, waiting for * to connect, *", 60),
    (b"Initial start, waiting # for * to connect, *", 60),
    (b"Waiting until nodes: * connects, *", 60),
    (b"Waiting # sec for nodes * to connect, *", 60),
    (b"Waiting for non partitioned start, *", 60),
    (b"Waiting # sec for non partitioned start, *", 60),
    (b"Initial start with nodes *", 60),
    (b"Start with all nodes *", 60),
    (b"Start with nodes *", 60),
    (b"Start potentially partitioned with nodes *", 60),
    (b"Unknown startreport: 0x*", 60),
    (b"Local redo log file initialization status: *", 71),
    // Sic: the source spells it "initializtion".
    (b"Node #: Log file initializtion completed", 71),
    (b"Local redo log file initialization completed: *", 72),
    (b"Start reading LCP for table # fragment: #", 77),
    (b"Restored LCP for table # fragment: # rows: #", 78),
    (b"Log part: # phase: # *", 79),
    (b"instace: # rebuild index: #", 80),
    // Node restart and node failure.
    (
        b"Node restart completed copy of dictionary information*",
        22,
    ),
    (
        b"Node restart completed copy of distribution information*",
        23,
    ),
    (b"Node restart starting to copy the fragments to Node #", 24),
    (
        b"Table ID = #, fragment ID = # have been synced to Node #*",
        25,
    ),
    (
        b"Node restart completed copying the fragments to Node #",
        26,
    ),
    (b"Node # completed failure of Node #", 27),
    (b"All nodes completed failure of Node #", 27),
    // "Node failure of %u %s completed", the block name possibly empty.
    (b"Node failure of # *completed", 27),
    (b"Node # has failed. The Node state at failure was #", 28),
    (b"President restarts arbitration thread [*", 29),
    (b"Prepare arbitrator node # [*", 29),
    (b"Receive arbitrator node # [*", 29),
    (b"Started arbitrator node # [*", 29),
    (b"Lost arbitrator node # - *", 29),
    (b"Arbitration check lost - *", 30),
    (b"Arbitration check won - *", 30),
    (b"Network partitioning - *", 30),
    (b"Arbitration won - *", 30),
    (b"Arbitration lost - *", 30),
    (b"Continuing after wait for external arbitration*", 30),
    (b"Arbitration failure - *", 30),
    (b"GCP Take over started", 31),
    (b"GCP Take over completed", 32),
    (b"LCP Take over started", 33),
    (b"LCP Take over completed (state = #)", 34),
    (b"Connectivity Check of # other nodes (*", 82),
    (b"Connectivity Check of # nodes (*", 82),
    (b"Connectivity Check completed on # nodes*", 83),
    (b"Received FAIL_REP (*", 84),
    // Statistics.
    (b"Trans. Count = *", 35),
    (b"Operations=#", 36),
    (b"Table with ID =  # created", 37),
    (b"Mean loop Counter in doJob last 8192 times = #", 39),
    (b"Mean send size to Node = # last 4096 sends = # bytes", 40),
    (
        b"Mean receive size to Node = # last 4096 sends = # bytes",
        41,
    ),
    // "%s usage %s %d%s(%d %dK pages of total %d)": the block, then "is", "increased to"
    // or "decreased to".
    (b"Data usage *(# #K pages of total #)", 50),
    (b"Index usage *(# #K pages of total #)", 50),
    (b"<unknown> usage *(# #K pages of total #)", 50),
    (
        b"8192 loops,tot # usec,exec # extra:loops = #,time #,const #",
        68,
    ),
    (b"Signals delivered from thread #: prio A *", 70),
    (b"create * id: # version: # (from #)", 74),
    (b"alter * id: # version: # (from #)", 75),
    (b"drop * id: # version: # (from #)", 76),
    // Errors and information.
    (b"Node # missed heartbeat #", 44),
    (b"Node # declared dead due to missed heartbeat", 45),
    (b"Node Sent Heartbeat to node = #", 47),
    (b"Log part #, log file #, MB #", 48),
    (b"Event buffer status: *", 58),
    (
        b"Disconnecting node # because it has exceeded MaxBufferedEpochs*",
        69,
    ),
    (b"Nodefailure while out of event buffer: *", 69),
    (
        b"Forcing disconnect of node # as it did not connect within # seconds.",
        69,
    ),
    (b"Entering single user mode", 52),
    (b"Entered single user mode Node # has exclusive access", 52),
    (b"Exiting single user mode", 52),
    (b"Unknown single user report #", 52),
    // Backup and restore. The completed text goes on with the GCPs, records and bytes
    // (one line in the sources read; the pattern also takes the text cut at "completed").
    (b"Backup # started from node #", 54),
    (b"Backup # started from node # completed*", 56),
    (b"Backup # started from # has been aborted. Error: #", 57),
    (b"Backup request from # failed to start. Error: #", 55),
    (b"Local backup status: backup # started from node #*", 62),
    (b"Backup not started", 62),
    (b"Restore meta data: backup # from node #*", 63),
    (b"Restore data: backup # from node #*", 64),
    (b"Restore log: backup # from node #*", 65),
    (b"Restore started: backup # from node #", 66),
    (b"Restore completed: backup # from node #", 67),
];

/// The event type of a non-parsable event text: what follows `Node <id>: ` on a line the
/// management server writes to a listener that did not ask for `parsable: 1` (the caller strips
/// that prefix). A line end (`\n`, `\r\n`) left on the text is ignored.
///
/// Returns `None` for a text no event of the enum writes, and for the few texts that do not tell
/// which of two types wrote them (see the notes on the patterns in the source).
pub fn from_text(text: &[u8]) -> Option<u32> {
    let text = trim_line_end(text);
    RULES
        .iter()
        .find(|(pattern, _)| matches(pattern, text))
        .map(|&(_, event_type)| event_type)
}

/// `text` without the `\r` and `\n` bytes at its end.
fn trim_line_end(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = text {
        text = rest;
    }
    text
}

/// The length of the decimal number at the start of `text` (an optional `-`, then at least one
/// digit), or 0 if there is none.
fn number_len(text: &[u8]) -> usize {
    let sign = usize::from(text.first() == Some(&b'-'));
    let digits = text
        .iter()
        .skip(sign)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        0
    } else {
        sign + digits
    }
}

/// Whether `text` matches `pattern` as a whole (`#` a number, `*` any bytes; see [`RULES`]).
///
/// A `#` takes the whole run of digits, and a `*` first takes nothing and is widened one byte at
/// a time when what follows fails, the usual wildcard scan with one remembered star: at most
/// `pattern.len() * text.len()` steps.
fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let mut p = 0;
    let mut t = 0;
    // The pattern position after the last star seen, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&byte) = text.get(t) {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(b'#') => {
                let n = number_len(text.get(t..).unwrap_or_default());
                if n > 0 {
                    p += 1;
                    t += n;
                    continue;
                }
            }
            Some(&want) if want == byte => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after_star, tried_at)) => {
                p = after_star;
                t = tried_at + 1;
                star = Some((after_star, t));
            }
            None => return false,
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_header() {
        let expected: &[(u32, &str)] = &[
            (0, "Connected"),
            (1, "Disconnected"),
            (2, "CommunicationClosed"),
            (3, "CommunicationOpened"),
            (4, "GlobalCheckpointStarted"),
            (7, "LocalCheckpointCompleted"),
            (10, "NDBStartStarted"),
            (11, "NDBStartCompleted"),
            (12, "STTORRYRecieved"),
            (13, "StartPhaseCompleted"),
            (14, "CM_REGCONF"),
            (15, "CM_REGREF"),
            (17, "NDBStopStarted"),
            (18, "NDBStopAborted"),
            (27, "NodeFailCompleted"),
            (28, "NODE_FAILREP"),
            (30, "ArbitResult"),
            (44, "MissedHeartbeat"),
            (45, "DeadDueToHeartbeat"),
            (49, "InfoEvent"),
            (50, "MemoryUsage"),
            (51, "ConnectedApiVersion"),
            (52, "SingleUser"),
            (53, "NDBStopCompleted"),
            (54, "BackupStarted"),
            (55, "BackupFailedToStart"),
            (56, "BackupCompleted"),
            (57, "BackupAborted"),
            (58, "EventBufferStatus"),
            (59, "NDBStopForced"),
            (60, "StartReport"),
            (62, "BackupStatus"),
            (67, "RestoreCompleted"),
            (68, "ThreadConfigLoop"),
            (72, "LogFileInitCompStatus"),
            (81, "SavedEvent"),
            (84, "NodeFailRejected"),
            (85, "EventBufferStatus2"),
            (86, "LCPRestored"),
            (87, "EventBufferStatus3"),
        ];
        for &(number, want) in expected {
            assert_eq!(name(number), Some(want), "type {number}");
        }
        assert_eq!(name(MAX_TYPE), Some("EventBufferStatus3"));
    }

    #[test]
    fn unknown_numbers_have_no_name() {
        for number in [61, MAX_TYPE + 1, 88, 255, 1000, u32::MAX] {
            assert_eq!(name(number), None, "type {number}");
        }
    }

    #[test]
    fn every_number_up_to_the_maximum_but_61_has_a_name() {
        for number in 0..=MAX_TYPE {
            assert_eq!(name(number).is_some(), number != 61, "type {number}");
        }
    }

    #[test]
    fn names_are_unique() {
        for a in 0..=MAX_TYPE {
            for b in (a + 1)..=MAX_TYPE {
                if let (Some(x), Some(y)) = (name(a), name(b)) {
                    assert_ne!(x, y, "types {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn every_rule_names_a_known_type() {
        for (pattern, event_type) in RULES {
            assert!(
                name(*event_type).is_some(),
                "{} -> {event_type}",
                String::from_utf8_lossy(pattern)
            );
        }
    }

    /// Texts as the format strings print them, with the type each must give.
    const TEXTS: &[(&[u8], u32)] = &[
        (b"Node 3 Connected", 0),
        (b"Node 3 Disconnected", 1),
        (b"Communication to Node 3 closed", 2),
        (b"Communication to Node 3 opened", 3),
        (b"Node 50: API mysql-8.0.35 ndb-8.0.35", 51),
        (b"Node 50: API version 7.6.30", 51),
        (b"Global checkpoint 1234 started", 4),
        (b"Global checkpoint 1234 completed", 5),
        (
            b"Local checkpoint 17 started. Keep GCI = 1200 oldest restorable GCI = 1210",
            6,
        ),
        (b"Local checkpoint 17 completed", 7),
        (b"Start initiated (mysql-8.0.35 ndb-8.0.35)", 10),
        (b"Start initiated (version 7.2.10)", 10),
        (b"Started (mysql-8.0.35 ndb-8.0.35)", 11),
        (b"Start phase 1 completed (initial start)", 13),
        (b"Start phase 101 completed (node restart)", 13),
        (b"Start phase 5 completed ", 13),
        (b"Start phase 4 completed (unknown = 9)", 13),
        (
            b"CM_REGCONF president = 1, own Node = 2, our dynamic id = 0/2",
            14,
        ),
        (b"CM_REGREF from Node 1 to our Node 2. Cause = Busy", 15),
        (b"Cluster shutdown initiated", 17),
        (b"Node shutdown initiated", 17),
        (b"Node shutdown aborted", 18),
        (b"Node shutdown completed.", 53),
        (
            b"Node shutdown completed, restarting, no start. Initiated by signal 15.",
            53,
        ),
        (b"Forced node shutdown completed.", 59),
        (
            b"Forced node shutdown completed. Occurred during startphase 4. Caused by error \
              2341: 'Internal program error (failed ndbrequire)(Internal error, programming \
              error or missing error message, please report a bug). Temporary error, restart \
              node'.",
            59,
        ),
        (b"Node 4 completed failure of Node 3", 27),
        (b"All nodes completed failure of Node 3", 27),
        (b"Node failure of 3 DBTC completed", 27),
        (b"Node failure of 3  completed", 27),
        (b"Node 3 has failed. The Node state at failure was 0", 28),
        (b"Arbitration check won - node group majority", 30),
        (b"Arbitration check lost - less than 1/2 nodes left", 30),
        (b"Network partitioning - arbitration required", 30),
        (b"Arbitration won - positive reply from node 1", 30),
        (b"Arbitration lost - negative reply from node 1", 30),
        (b"Arbitration failure - Timeout [state=7]", 30),
        (b"Started arbitrator node 1 [ticket=0b1a00029c4b8a0f]", 29),
        (b"Lost arbitrator node 1 - process exit [state=6]", 29),
        (b"Node 3 missed heartbeat 2", 44),
        (b"Node 3 declared dead due to missed heartbeat", 45),
        (b"Entering single user mode", 52),
        (b"Entered single user mode Node 50 has exclusive access", 52),
        (b"Exiting single user mode", 52),
        (
            b"Initial start, waiting for 3 to connect,  nodes [ all: 2 and 3 connected: 2 \
              no-wait:  ]",
            60,
        ),
        (b"Start with all nodes 2 and 3", 60),
        (b"Start with nodes 2 [ missing: 3 no-wait:  ]", 60),
        (
            b"Waiting 30 sec for nodes 3 to connect, nodes [ all: 2 and 3 connected: 2 \
              no-wait:  ]",
            60,
        ),
        (b"Data usage is 5%(100 32K pages of total 2000)", 50),
        (b"Index usage increased to 80%(1600 8K pages of total 2000)", 50),
        (b"Data usage decreased to 70%(1400 32K pages of total 2000)", 50),
        (b"Backup 1 started from node 1", 54),
        (
            b"Backup 1 started from node 1 completed. StartGCP: 1234 StopGCP: 1237 \
              #Records: 2059 #LogRecords: 0 Data: 51608 bytes Log: 0 bytes",
            56,
        ),
        // The completed text cut short after "completed" still counts as completed.
        (b"Backup 1 started from node 1 completed", 56),
        (b"Backup 1 started from 1 has been aborted. Error: 1350", 57),
        (b"Backup request from 1 failed to start. Error: 1350", 55),
        (b"Table ID = 11, fragment ID = 0 has completed LCP on Node 2 maxGciStarted: 5 maxGciCompleted: 5", 9),
        (b"Table ID = 11, fragment ID = 0 have been synced to Node 3 rows: 10 bytes: 400 ", 25),
        (b"Node restart completed copy of dictionary information to Node 3", 22),
        (b"Node restart completed copy of distribution information", 23),
        (b"Node Start completed restore of LCP id: 17", 86),
        (b"Node 2: Log file initializtion completed", 71),
        (b"Local backup status: backup 1 started from node 1\n #Records: 1", 62),
        (b"Event buffer status: max=unlimited used=0B alloc=0B apply_epoch=1/2 latest_epoch=1/2", 58),
        (b"Connectivity Check completed on 3 nodes, connectivity ok", 83),
        (b"Trans. Count = 10, Commit Count = 10, Read Count = 0", 35),
        (b"Operations=15", 36),
        (b"Table with ID =  5 created", 37),
    ];

    #[test]
    fn texts_give_their_types() {
        for &(text, want) in TEXTS {
            assert_eq!(
                from_text(text),
                Some(want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn line_ends_are_ignored() {
        assert_eq!(from_text(b"Backup 1 started from node 1\n"), Some(54));
        assert_eq!(from_text(b"Backup 1 started from node 1\r\n"), Some(54));
        assert_eq!(from_text(b"Node shutdown aborted\n\n"), Some(18));
    }

    #[test]
    fn other_texts_give_none() {
        let texts: &[&[u8]] = &[
            b"",
            b"\n",
            b"Backup",
            b"Backup started from node 1",
            b"Backup x started from node 1",
            b"Backup 1 started from node",
            b"Backup 1 started from node 1 and more",
            b"backup 1 started from node 1",
            b"Node Connected",
            b"Node 3 Connected now",
            b"Node 3: Connected",
            b"Cluster restart initiated",
            b"Node shutdown",
            b"Start initiated",
            b"Started",
            b"Global checkpoint started",
            b"Global checkpoint 12 started early",
            b"Node 3 missed heartbeat",
            b"Transporter to node 3 reported error 0x16: The send buffer was full",
            b"Event buffer status (0x80000003): max=unlimited used=0B alloc=0B \
              latest_consumed_epoch=1/2 latest_buffered_epoch=1/2 report_reason=NO_REPORT",
            b"some free text an InfoEvent might carry",
            b"<PING>",
            b"log event reply",
            b"type=54",
            b"#",
            b"*",
            b"-",
            b"Node - Connected",
            b"\xff\xfe\x00",
        ];
        for &text in texts {
            assert_eq!(from_text(text), None, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn the_matcher() {
        assert!(matches(b"", b""));
        assert!(matches(b"*", b""));
        assert!(matches(b"**", b"abc"));
        assert!(!matches(b"", b"a"));
        assert!(matches(b"a#b", b"a123b"));
        assert!(matches(b"a#b", b"a-5b"));
        assert!(!matches(b"a#b", b"ab"));
        assert!(!matches(b"a#b", b"a-b"));
        assert!(!matches(b"#", b""));
        assert!(matches(b"a*c", b"abbbc"));
        assert!(matches(b"a*c", b"ac"));
        assert!(matches(b"a*bc", b"abcbc"));
        assert!(!matches(b"a*c", b"abcd"));
        assert!(matches(b"x * y #", b"x a y b y 12"));
        assert!(!matches(b"x * y #", b"x a y b y 12 "));
    }

    #[test]
    fn no_panic_on_arbitrary_bytes() {
        // Every prefix and suffix of every example, and some bytes that are not text at all.
        for &(text, _) in TEXTS {
            for cut in 0..=text.len() {
                let _ = from_text(text.get(..cut).unwrap_or_default());
                let _ = from_text(text.get(cut..).unwrap_or_default());
            }
        }
        let mut noise = [0u8; 300];
        for (i, b) in noise.iter_mut().enumerate() {
            *b = (i * 37 % 256) as u8;
        }
        assert_eq!(from_text(&noise), None);
    }
}
