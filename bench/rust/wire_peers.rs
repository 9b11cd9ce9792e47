//! Native ZeroMQ peers for `bench/wire`: a producer pushing a runner's messages as fast as the
//! socket takes them, and a consumer counting what arrives. Neither holds a GIL, so the
//! component between them (a duplicator) is what limits the rate.
//!
//!     cargo bench --bench wire_peers -- produce tcp://127.0.0.1:PORT COUNT
//!     cargo bench --bench wire_peers -- consume tcp://127.0.0.1:PORT COUNT IDLE_SECONDS
//!
//! The producer connects (as a runner does) and sends COUNT copies of an `http_metrics`
//! message encoded as mite-rs's runner encodes it, then waits until they have left. The
//! consumer connects (as a collector does), counts frames until COUNT arrived or none came
//! for IDLE_SECONDS, and prints one JSON line: frames received, bytes, the seconds from the
//! first to the last frame, and whether any frame differed from the one sent.

use std::time::{Duration, Instant};

use mite_core::messages::{keys, Envelope, Message, Value};

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

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let count: u64 = arg(2).parse().expect("COUNT");
    match arg(0) {
        "produce" => produce(arg(1), count),
        "consume" => consume(
            arg(1),
            count,
            Duration::from_secs_f64(arg(3).parse().unwrap_or(3.0)),
        ),
        other => panic!("unknown role {other:?}: produce or consume"),
    }
}
