//! Non-NDB conversations that a port-3406 listener might carry, used to check that the
//! classifier says `unknown`: HTTP, TLS, SSH, SMTP, MySQL classic protocol, memcached, Redis,
//! a generic `key: value` text protocol, random binary, a connection without payload, and a
//! DNS-style UDP exchange. Also the TLS record builders shared with the NDB `start tls`
//! conversation.
//!
//! Owns: structurally valid payload bytes of those protocols (Wireshark dissects them without
//! complaint). Must never produce anything that is actually NDB management protocol, and
//! never read entropy: random-looking bytes come from fixed seeds.

use super::rng::SplitMix64;
use super::script::{Close, Conversation, Script};
use super::Side;

fn u16be(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn u24be(v: usize) -> [u8; 3] {
    let b = (v as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn tls_record(content_type: u8, legacy_version: [u8; 2], body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type, legacy_version[0], legacy_version[1]];
    r.extend_from_slice(&u16be(body.len()));
    r.extend_from_slice(body);
    r
}

fn tls_ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut e = ty.to_be_bytes().to_vec();
    e.extend_from_slice(&u16be(data.len()));
    e.extend_from_slice(data);
    e
}

/// A TLS 1.3 ClientHello record (legacy version 1.0 on the record, 1.2 in the hello), with
/// an optional server name, x25519 key share and the usual extensions.
pub fn tls_client_hello(rng: &mut SplitMix64, sni: Option<&str>) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&rng.bytes(32));
    body.push(32);
    body.extend_from_slice(&rng.bytes(32));
    let suites: [u16; 9] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
    ];
    body.extend_from_slice(&u16be(suites.len() * 2));
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut d = u16be(name.len() + 3).to_vec();
        d.push(0);
        d.extend_from_slice(&u16be(name.len()));
        d.extend_from_slice(name.as_bytes());
        exts.extend(tls_ext(0x0000, &d));
    }
    exts.extend(tls_ext(0x000a, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]));
    exts.extend(tls_ext(0x000b, &[1, 0]));
    exts.extend(tls_ext(
        0x000d,
        &[0, 16, 4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1],
    ));
    exts.extend(tls_ext(0x002b, &[4, 3, 4, 3, 3]));
    exts.extend(tls_ext(0x002d, &[1, 1]));
    let mut ks = vec![0, 36, 0x00, 0x1d, 0, 32];
    ks.extend_from_slice(&rng.bytes(32));
    exts.extend(tls_ext(0x0033, &ks));
    body.extend_from_slice(&u16be(exts.len()));
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&u24be(body.len()));
    hs.extend_from_slice(&body);
    tls_record(0x16, [3, 1], &hs)
}

/// A TLS application-data record of `len` opaque bytes.
pub fn tls_app_data(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
    tls_record(0x17, [3, 3], &rng.bytes(len))
}

/// The server's first TLS 1.3 flight: ServerHello, ChangeCipherSpec, and encrypted
/// handshake messages as application-data records.
pub fn tls_server_flight(rng: &mut SplitMix64) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&rng.bytes(32));
    body.push(32);
    body.extend_from_slice(&rng.bytes(32));
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let mut exts = tls_ext(0x002b, &[3, 4]);
    let mut ks = vec![0x00, 0x1d, 0, 32];
    ks.extend_from_slice(&rng.bytes(32));
    exts.extend(tls_ext(0x0033, &ks));
    body.extend_from_slice(&u16be(exts.len()));
    body.extend_from_slice(&exts);
    let mut hs = vec![2];
    hs.extend_from_slice(&u24be(body.len()));
    hs.extend_from_slice(&body);
    let mut out = tls_record(0x16, [3, 3], &hs);
    out.extend(tls_record(0x14, [3, 3], &[1]));
    out.extend(tls_app_data(rng, 36));
    out.extend(tls_app_data(rng, 820));
    out.extend(tls_app_data(rng, 281));
    out.extend(tls_app_data(rng, 69));
    out
}

/// The client's second flight: ChangeCipherSpec, then (optionally a certificate and
/// certificate verify and) Finished, as application-data records.
pub fn tls_client_finish(rng: &mut SplitMix64, with_certificate: bool) -> Vec<u8> {
    let mut out = tls_record(0x14, [3, 3], &[1]);
    if with_certificate {
        out.extend(tls_app_data(rng, 760));
        out.extend(tls_app_data(rng, 281));
    }
    out.extend(tls_app_data(rng, 69));
    out
}

/// HTTP/1.1 GET and a small HTML response.
pub fn http() -> Script {
    let body = "<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\n<body><p>It works.</p></body></html>\n";
    Script::tcp()
        .client("GET / HTTP/1.1\r\nHost: 203.0.113.10:3406\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
        .server(format!(
            "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 15 Jan 2024 10:00:00 GMT\r\n\
             Content-Type: text/html\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
            body.len()
        ))
}

/// A direct TLS 1.3 session (no plaintext prefix).
pub fn tls() -> Script {
    let mut rng = SplitMix64::new(0x715);
    let hello = tls_client_hello(&mut rng, Some("db.example.com"));
    let flight = tls_server_flight(&mut rng);
    let finish = tls_client_finish(&mut rng, false);
    let req = tls_app_data(&mut rng, 120);
    let rep = tls_app_data(&mut rng, 400);
    Script::tcp()
        .client(hello)
        .server(flight)
        .client(finish)
        .client(req)
        .server(rep)
}

fn ssh_packet(rng: &mut SplitMix64, payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut p = ((1 + payload.len() + pad) as u32).to_be_bytes().to_vec();
    p.push(pad as u8);
    p.extend_from_slice(payload);
    p.extend_from_slice(&rng.bytes(pad));
    p
}

fn ssh_kexinit(rng: &mut SplitMix64, kex: &str) -> Vec<u8> {
    let mut m = vec![20];
    m.extend_from_slice(&rng.bytes(16));
    let lists = [
        kex,
        "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
        "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
        "none,zlib@openssh.com",
        "none,zlib@openssh.com",
        "",
        "",
    ];
    for l in lists {
        m.extend_from_slice(&(l.len() as u32).to_be_bytes());
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&[0, 0, 0, 0]);
    ssh_packet(rng, &m)
}

/// SSH banners exchange followed by both KEXINIT packets; the client gives up.
pub fn ssh() -> Script {
    let mut rng = SplitMix64::new(0x55b);
    let ck = ssh_kexinit(
        &mut rng,
        "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,ext-info-c",
    );
    let sk = ssh_kexinit(&mut rng, "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com");
    Script::tcp()
        .server("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n")
        .client("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        .client(ck)
        .server(sk)
}

/// SMTP: 220 banner, EHLO, multi-line 250, MAIL FROM, QUIT.
pub fn smtp() -> Script {
    Script::tcp()
        .server("220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n")
        .client("EHLO client.example.org\r\n")
        .server(
            "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
             250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n",
        )
        .client("MAIL FROM:<alice@example.org>\r\n")
        .server("250 2.1.0 Ok\r\n")
        .client("QUIT\r\n")
        .server("221 2.0.0 Bye\r\n")
        .closed(Close::Fin { by: Side::Server })
}

fn mysql_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut p = vec![len[0], len[1], len[2], seq];
    p.extend_from_slice(payload);
    p
}

fn printable_scramble(rng: &mut SplitMix64, n: usize) -> Vec<u8> {
    (0..n).map(|_| 0x21 + (rng.next_u32() % 94) as u8).collect()
}

/// MySQL classic protocol: server greeting (protocol 10, 8.0.35, caching_sha2_password),
/// HandshakeResponse41, fast-auth success, OK, COM_QUIT.
pub fn mysql() -> Script {
    let mut rng = SplitMix64::new(0x3306);
    let mut g = vec![0x0a];
    g.extend_from_slice(b"8.0.35\0");
    g.extend_from_slice(&11u32.to_le_bytes());
    g.extend_from_slice(&printable_scramble(&mut rng, 8));
    g.push(0);
    g.extend_from_slice(&0xffffu16.to_le_bytes());
    g.push(0xff);
    g.extend_from_slice(&0x0002u16.to_le_bytes());
    g.extend_from_slice(&0xdfffu16.to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(&printable_scramble(&mut rng, 12));
    g.push(0);
    g.extend_from_slice(b"caching_sha2_password\0");

    let mut r = Vec::new();
    r.extend_from_slice(&0x012f_a687u32.to_le_bytes());
    r.extend_from_slice(&0x0100_0000u32.to_le_bytes());
    r.push(0xff);
    r.extend_from_slice(&[0; 23]);
    r.extend_from_slice(b"app\0");
    r.push(32);
    r.extend_from_slice(&rng.bytes(32));
    r.extend_from_slice(b"caching_sha2_password\0");

    Script::tcp()
        .server(mysql_packet(0, &g))
        .client(mysql_packet(1, &r))
        .server(
            [
                mysql_packet(2, &[0x01, 0x03]),
                mysql_packet(3, &[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]),
            ]
            .concat(),
        )
        .client(mysql_packet(0, &[0x01]))
}

/// memcached text protocol: misses on `get x` and `get status`, then `version`.
pub fn memcached() -> Script {
    Script::tcp()
        .client("get x\r\n")
        .server("END\r\n")
        .client("get status\r\n")
        .server("END\r\n")
        .client("version\r\n")
        .server("VERSION 1.6.21\r\n")
        .client("quit\r\n")
}

/// Redis inline commands: `get x` (nil), `PING`, `get version` (nil), `QUIT`.
pub fn redis() -> Script {
    Script::tcp()
        .client("get x\r\n")
        .server("$-1\r\n")
        .client("PING\r\n")
        .server("+PONG\r\n")
        .client("get version\r\n")
        .server("$-1\r\n")
        .client("QUIT\r\n")
        .server("+OK\r\n")
        .closed(Close::Fin { by: Side::Server })
}

/// A generic line protocol with blank-line-terminated `key: value` blocks and `result: Ok`
/// lines, but no NDB command or reply header.
pub fn generic_kv() -> Script {
    Script::tcp()
        .client("HELLO\nagent: probe-7\nversion: 2\n\n")
        .server("HELLO\nresult: Ok\nsession: 42\n\n")
        .client("STATUS\n\n")
        .server("STATUS\nresult: Ok\nqueue: 0\nuptime: 86400\n\n")
        .client("BYE\n\n")
        .server("BYE\nresult: Ok\n\n")
}

/// Seeded random bytes both ways.
pub fn random_binary() -> Script {
    let mut rng = SplitMix64::new(0xb1a5);
    Script::tcp()
        .client(rng.bytes(200))
        .server(rng.bytes(600))
        .client(rng.bytes(64))
        .closed(Close::Rst { by: Side::Client })
}

/// A connection that is opened and closed without any payload.
pub fn handshake_only() -> Script {
    Script::tcp()
}

fn dns_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

/// A DNS-style query for `www.example.com` A and its answer (UDP).
pub fn dns_udp() -> Script {
    let mut q = vec![0x1a, 0x2b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend(dns_name("www.example.com"));
    q.extend_from_slice(&[0, 1, 0, 1]);
    let mut a = q.clone();
    a[2] = 0x81;
    a[3] = 0x80;
    a[7] = 1;
    a.extend_from_slice(&[
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 192, 0, 2, 80,
    ]);
    Script::udp().client(q).server(a)
}

/// Every look-alike of this module: (name, description, constructor).
pub const CONVERSATIONS: &[Conversation] = &[
    Conversation {
        name: "http",
        description: "HTTP/1.1 GET and 200 response",
        build: http,
    },
    Conversation {
        name: "tls",
        description: "TLS 1.3 ClientHello/ServerHello and records",
        build: tls,
    },
    Conversation {
        name: "ssh",
        description: "SSH banners and KEXINIT",
        build: ssh,
    },
    Conversation {
        name: "smtp",
        description: "SMTP 220 banner, EHLO, 250 lines",
        build: smtp,
    },
    Conversation {
        name: "mysql",
        description: "MySQL classic greeting (protocol 10) and auth",
        build: mysql,
    },
    Conversation {
        name: "memcached",
        description: "memcached get x / END",
        build: memcached,
    },
    Conversation {
        name: "redis",
        description: "Redis inline get x / $-1",
        build: redis,
    },
    Conversation {
        name: "generic-kv",
        description: "generic key: value text with result: Ok",
        build: generic_kv,
    },
    Conversation {
        name: "random",
        description: "random binary both ways",
        build: random_binary,
    },
    Conversation {
        name: "handshake-only",
        description: "TCP handshake and close, no payload",
        build: handshake_only,
    },
    Conversation {
        name: "dns-udp",
        description: "DNS-style query and answer over UDP",
        build: dns_udp,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_client_hello_lengths_are_consistent() {
        let mut rng = SplitMix64::new(1);
        let r = tls_client_hello(&mut rng, Some("db.example.com"));
        assert_eq!(&r[..3], &[0x16, 3, 1]);
        let rec_len = usize::from(u16::from_be_bytes([r[3], r[4]]));
        assert_eq!(rec_len, r.len() - 5);
        let hs_len = (usize::from(r[6]) << 16) | (usize::from(r[7]) << 8) | usize::from(r[8]);
        assert_eq!(hs_len, r.len() - 9);
    }

    #[test]
    fn ssh_packets_are_block_aligned() {
        let mut rng = SplitMix64::new(2);
        let p = ssh_kexinit(&mut rng, "curve25519-sha256");
        assert_eq!(p.len() % 8, 0);
        let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
        assert_eq!(len + 4, p.len());
        assert!(p[4] >= 4);
    }

    #[test]
    fn mysql_greeting_is_protocol_10() {
        let s = mysql();
        let g = &s.messages[0].bytes;
        let len = usize::from(g[0]) | (usize::from(g[1]) << 8) | (usize::from(g[2]) << 16);
        assert_eq!(len + 4, g.len());
        assert_eq!(g[3], 0);
        assert_eq!(g[4], 0x0a);
        assert!(g.ends_with(b"caching_sha2_password\0"));
    }
}
