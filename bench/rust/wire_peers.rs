//! Native ZeroMQ peers for `bench/wire`: a producer pushing a runner's messages as fast as the
//! socket takes them, and a consumer counting what arrives. Neither holds a GIL, so the
//! component between them (a duplicator) is what limits the rate.
//!
//!     cargo bench --bench wire_peers -- produce tcp://127.0.0.1:PORT COUNT [zmtp]
//!     cargo bench --bench wire_peers -- consume tcp://127.0.0.1:PORT COUNT IDLE_SECONDS [zmtp]
//!
//! With `zmtp` a peer speaks ZMTP itself (mite_core::wire::zmtp) over a plain TCP stream,
//! writing or reading megabytes at a time, instead of through a libzmq socket. Such peers cost
//! a fraction of a libzmq socket's CPU per message, so they can feed and drain a duplicator
//! faster than it forwards; libzmq peers on one CPU cannot keep up with mite-rs's.
//!
//! The producer connects (as a runner does) and sends COUNT copies of an `http_metrics`
//! message encoded as mite-rs's runner encodes it, then waits until they have left. The
//! consumer connects (as a collector does), counts frames until COUNT arrived or none came
//! for IDLE_SECONDS, and prints one JSON line: frames received, bytes, the seconds from the
//! first to the last frame, and whether any frame differed from the one sent.

use std::time::{Duration, Instant};

use mite_core::messages::{keys, Envelope, Message, Value};
use mite_core::wire::zmtp;

fn message() -> Vec<u8> {
    let envelope = Envelope::new(vec![
        (keys::test(), Value::str("shapes:scenario_a")),
        (keys::runner_id(), Value::UInt(1)),
        (keys::journey(), Value::str("shapes:one_request")),
        (keys::context_id(), Value::UInt(12345)),
        (keys::scenario_id(), Value::UInt(1)),
        (keys::scenario_data_id(), Value::Nil),
    ]);
    let mut msg = Message::bare(keys::http_metrics(), 1_796_300_000.25);
    msg.envelope = Some(std::sync::Arc::new(envelope));
    msg.transaction = Some((std::sync::Arc::from("__root__ :: Request"), 2));
    msg.has_transaction_keys = true;
    for (key, value) in [
        ("effective_url", Value::str("http://127.0.0.1:8300/")),
        ("response_code", Value::UInt(200)),
        ("dns_time", Value::Float(0.0)),
        ("connect_time", Value::Float(0.000_1)),
        ("tls_time", Value::Float(0.0)),
        ("transfer_start_time", Value::Float(0.000_4)),
        ("first_byte_time", Value::Float(0.000_4)),
        ("total_time", Value::Float(0.000_5)),
        ("primary_ip", Value::str("127.0.0.1")),
        ("method", Value::str("GET")),
    ] {
        msg = msg.with_field(std::sync::Arc::from(key), value);
    }
    let mut frame = Vec::new();
    msg.encode(&mut frame);
    frame
}

fn produce(address: &str, count: u64) {
    let context = zmq::Context::new();
    let socket = context.socket(zmq::PUSH).expect("socket");
    socket.set_sndhwm(100_000).expect("hwm");
    socket.set_linger(30_000).expect("linger");
    socket.connect(address).expect("connect");
    let frame = message();
    for _ in 0..count {
        socket.send(&frame[..], 0).expect("send");
    }
    // Dropping the socket and context waits (up to the linger) until everything has left.
}

fn consume(address: &str, count: u64, idle: Duration) {
    let context = zmq::Context::new();
    let socket = context.socket(zmq::PULL).expect("socket");
    socket.set_rcvhwm(100_000).expect("hwm");
    socket
        .set_rcvtimeo(idle.as_millis() as i32)
        .expect("timeout");
    socket.connect(address).expect("connect");
    // Ready: the driver starts the producer once this line is out.
    println!("{{\"ready\": true}}");
    let expected = message();
    let mut frame = zmq::Message::new();
    let (mut received, mut bytes, mut damaged) = (0u64, 0u64, 0u64);
    let mut first = None;
    let mut last = Instant::now();
    while received < count {
        match socket.recv(&mut frame, 0) {
            Ok(()) => {
                last = Instant::now();
                first.get_or_insert(last);
                received += 1;
                bytes += frame.len() as u64;
                if *frame != expected[..] {
                    damaged += 1;
                }
            }
            Err(zmq::Error::EAGAIN) if first.is_some() => break,
            Err(zmq::Error::EAGAIN) => continue,
            Err(e) => panic!("recv: {e}"),
        }
    }
    let seconds = first.map_or(0.0, |f| (last - f).as_secs_f64());
    println!(
        "{{\"received\": {received}, \"bytes\": {bytes}, \"seconds\": {seconds}, \"damaged\": {damaged}}}"
    );
}

fn tcp_address(address: &str) -> &str {
    address
        .strip_prefix("tcp://")
        .expect("a tcp:// address for a zmtp peer")
}

fn zmtp_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn produce_zmtp(address: &str, count: u64) {
    use tokio::io::AsyncWriteExt;
    zmtp_runtime().block_on(async {
        let mut stream = tokio::net::TcpStream::connect(tcp_address(address))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        zmtp::handshake(&mut stream, zmtp::SocketType::Push)
            .await
            .expect("handshake");
        const BATCH: u64 = 10_000;
        let frame = message();
        let mut batch = Vec::new();
        for _ in 0..BATCH {
            zmtp::encode_message(&frame, &mut batch);
        }
        let per_frame = batch.len() / BATCH as usize;
        let mut left = count;
        while left > 0 {
            let n = left.min(BATCH);
            stream
                .write_all(&batch[..n as usize * per_frame])
                .await
                .expect("write");
            left -= n;
        }
        stream.shutdown().await.expect("shutdown");
    })
}

/// Counts what a zmtp consumer reads, and whether each message is the one sent.
struct Tally {
    expected: Vec<u8>,
    received: u64,
    bytes: u64,
    damaged: u64,
}

impl zmtp::FrameSink for Tally {
    fn messages(&mut self, _frames: &[u8], count: u64) {
        self.received += count;
    }
    fn wants_bodies(&self) -> bool {
        true
    }
    fn body(&mut self, body: &[u8]) {
        self.bytes += body.len() as u64;
        if body != self.expected {
            self.damaged += 1;
        }
    }
}

fn consume_zmtp(address: &str, count: u64, idle: Duration) {
    use tokio::io::AsyncReadExt;
    zmtp_runtime().block_on(async {
        let mut stream = tokio::net::TcpStream::connect(tcp_address(address))
            .await
            .expect("connect");
        zmtp::handshake(&mut stream, zmtp::SocketType::Pull)
            .await
            .expect("handshake");
        println!("{{\"ready\": true}}");
        let mut tally = Tally {
            expected: message(),
            received: 0,
            bytes: 0,
            damaged: 0,
        };
        let mut reader = zmtp::FrameReader::default();
        let mut first = None;
        let mut last = Instant::now();
        while tally.received < count {
            let read = tokio::time::timeout(idle, stream.read(reader.space())).await;
            let n = match read {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => n,
                Ok(Err(e)) => panic!("read: {e}"),
                Err(_) if first.is_some() => break,
                Err(_) => continue,
            };
            let before = tally.received;
            reader.filled(n, &mut tally).expect("frames");
            if tally.received > before {
                last = Instant::now();
                first.get_or_insert(last);
            }
        }
        let seconds = first.map_or(0.0, |f| (last - f).as_secs_f64());
        println!(
            "{{\"received\": {}, \"bytes\": {}, \"seconds\": {seconds}, \"damaged\": {}}}",
            tally.received, tally.bytes, tally.damaged
        );
    })
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let count: u64 = arg(2).parse().expect("COUNT");
    let idle = Duration::from_secs_f64(arg(3).parse().unwrap_or(3.0));
    let zmtp = args.iter().any(|a| a == "zmtp");
    match (arg(0), zmtp) {
        ("produce", false) => produce(arg(1), count),
        ("produce", true) => produce_zmtp(arg(1), count),
        ("consume", false) => consume(arg(1), count, idle),
        ("consume", true) => consume_zmtp(arg(1), count, idle),
        (other, _) => panic!("unknown role {other:?}: produce or consume"),
    }
}
