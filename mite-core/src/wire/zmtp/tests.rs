use super::*;

/// What a reader handed on, in order.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    bodies: Vec<Vec<u8>>,
    /// The runs' bytes, concatenated: what a duplicator would forward.
    forwarded: Vec<u8>,
    counted: u64,
    skipped: Vec<Skipped>,
    commands: Vec<Vec<u8>>,
}

impl FrameSink for Seen {
    fn messages(&mut self, frames: &[u8], count: u64) {
        self.forwarded.extend_from_slice(frames);
        self.counted += count;
    }
    fn wants_bodies(&self) -> bool {
        true
    }
    fn body(&mut self, body: &[u8]) {
        self.bodies.push(body.to_vec());
    }
    fn skipped(&mut self, skipped: Skipped) {
        self.skipped.push(skipped);
    }
    fn command(&mut self, body: &[u8]) {
        self.commands.push(body.to_vec());
    }
}

fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Header::write(flags, body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// Feeds `stream` to a reader in pieces of `piece` bytes.
fn read_in_pieces(stream: &[u8], piece: usize) -> Result<Seen, ProtocolError> {
    let mut reader = FrameReader::default();
    let mut seen = Seen::default();
    for chunk in stream.chunks(piece) {
        let mut chunk = chunk;
        while !chunk.is_empty() {
            let space = reader.space();
            let n = space.len().min(chunk.len());
            space[..n].copy_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            reader.filled(n, &mut seen)?;
        }
    }
    Ok(seen)
}

#[test]
fn headers_are_short_below_256_bytes_and_long_from_there() {
    let mut out = Vec::new();
    Header::write(0, 255, &mut out);
    assert_eq!(out, [0, 255]);
    out.clear();
    Header::write(MORE, 256, &mut out);
    assert_eq!(out, [MORE | LONG, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(
        Header::parse(&out),
        Ok(Some(Header {
            flags: MORE | LONG,
            len: 9,
            size: 256
        }))
    );
    assert_eq!(Header::parse(&out[..5]), Ok(None));
    assert_eq!(
        Header::parse(&[0x40, 1]),
        Err(ProtocolError::Reserved(0x40))
    );
    assert_eq!(
        Header::parse(&[COMMAND | MORE, 1]),
        Err(ProtocolError::CommandWithMore)
    );
}

#[test]
fn a_stream_split_anywhere_gives_the_same_messages_runs_and_skips() {
    let big = vec![7u8; 70_000];
    let mut stream = Vec::new();
    stream.extend(frame(0, b"one"));
    stream.extend(frame(0, &big));
    stream.extend(frame(COMMAND, b"\x04PING\x00\x00"));
    stream.extend(frame(MORE, b"part one"));
    stream.extend(frame(MORE, &big));
    stream.extend(frame(0, b"part three"));
    stream.extend(frame(0, b""));
    stream.extend(frame(0, b"last"));
    let whole = read_in_pieces(&stream, stream.len()).unwrap();
    assert!(whole.bodies == [b"one".to_vec(), big.clone(), b"".to_vec(), b"last".to_vec()]);
    assert_eq!(whole.counted, 4);
    assert_eq!(whole.skipped, [Skipped::Parts(3)]);
    assert_eq!(whole.commands, [b"\x04PING\x00\x00".to_vec()]);
    // What is forwarded is the single-part frames exactly as they came.
    let mut expected = frame(0, b"one");
    expected.extend(frame(0, &big));
    expected.extend(frame(0, b""));
    expected.extend(frame(0, b"last"));
    assert!(
        whole.forwarded == expected,
        "{} vs {}: {:?}",
        whole.forwarded.len(),
        expected.len(),
        &whole.forwarded[..20]
    );
    for piece in [1, 2, 3, 7, 9, 100, 4096, 65_536, 70_010] {
        let split = read_in_pieces(&stream, piece).unwrap();
        // Compared field by field: a failure should not print megabytes.
        assert!(
            split.forwarded == whole.forwarded,
            "forwarded, pieces of {piece}"
        );
        assert!(split.bodies == whole.bodies, "bodies, pieces of {piece}");
        assert_eq!(split.counted, whole.counted, "pieces of {piece}");
        assert_eq!(split.skipped, whole.skipped, "pieces of {piece}");
        assert_eq!(split.commands, whole.commands, "pieces of {piece}");
    }
}

#[test]
fn a_frame_over_the_limit_is_skipped_without_being_held() {
    let mut reader = FrameReader::default();
    let mut seen = Seen::default();
    let size = crate::wire::MAX_FRAME as u64 + 1;
    let mut header = Vec::new();
    Header::write(0, size as usize, &mut header);
    let space = reader.space();
    space[..header.len()].copy_from_slice(&header);
    reader.filled(header.len(), &mut seen).unwrap();
    // The body streams through a buffer that never grows to its size.
    let mut left = size;
    while left > 0 {
        let space = reader.space();
        assert!(space.len() <= 1 << 20);
        let n = (space.len() as u64).min(left) as usize;
        space[..n].fill(0xAB);
        reader.filled(n, &mut seen).unwrap();
        left -= n as u64;
    }
    let after = frame(0, b"after");
    let space = reader.space();
    space[..after.len()].copy_from_slice(&after);
    reader.filled(after.len(), &mut seen).unwrap();
    assert_eq!(seen.skipped, [Skipped::Oversized(size)]);
    assert_eq!(seen.bodies, [b"after".to_vec()]);
}

#[test]
fn reserved_flags_end_the_stream_after_what_came_before() {
    let mut stream = frame(0, b"good");
    stream.extend([0x80, 0]);
    let mut reader = FrameReader::default();
    let mut seen = Seen::default();
    let space = reader.space();
    space[..stream.len()].copy_from_slice(&stream);
    assert_eq!(
        reader.filled(stream.len(), &mut seen),
        Err(ProtocolError::Reserved(0x80))
    );
    assert_eq!(seen.bodies, [b"good".to_vec()]);
}

fn handshake_with(peer_sends: Vec<u8>, ours: SocketType) -> Result<(), HandshakeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut ours_end, mut theirs) = tokio::io::duplex(4096);
        let peer = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            theirs.write_all(&peer_sends).await.unwrap();
            let mut greeting = [0u8; 64];
            theirs.read_exact(&mut greeting).await.unwrap();
            greeting
        });
        let result = handshake(&mut ours_end, ours).await;
        let greeting = peer.await.unwrap();
        assert_eq!(&greeting[..12], b"\xff\0\0\0\0\0\0\0\0\x7f\x03\x00");
        assert_eq!(&greeting[12..16], b"NULL");
        result
    })
}

#[test]
fn a_push_peer_is_taken_by_a_pull_socket_and_other_peers_are_refused() {
    handshake_with(handshake::peer_hello("PUSH"), SocketType::Pull).unwrap();
    handshake_with(handshake::peer_hello("PULL"), SocketType::Push).unwrap();
    let refused = handshake_with(handshake::peer_hello("SUB"), SocketType::Pull).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the peer is a SUB socket; a PULL socket takes only PUSH peers"
    );
    let mut old = handshake::peer_hello("PUSH");
    old[10] = 2;
    assert!(matches!(
        handshake_with(old, SocketType::Pull),
        Err(HandshakeError::OldVersion(2))
    ));
    let mut curve = handshake::peer_hello("PUSH");
    curve[12..17].copy_from_slice(b"CURVE");
    assert_eq!(
        handshake_with(curve, SocketType::Pull)
            .unwrap_err()
            .to_string(),
        "the peer asks for the CURVE security mechanism; only NULL is supported"
    );
    let mut http = b"GET / HTTP/1.1\r\n".to_vec();
    http.resize(80, b' ');
    assert!(matches!(
        handshake_with(http, SocketType::Pull),
        Err(HandshakeError::NotZmtp)
    ));
}
