//! The message plane over real ZeroMQ sockets in one process (inproc and loopback tcp).

use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::messages::{encode_value, Value};

fn frame(value: &Value) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_value(value, &mut buf);
    buf
}

fn txn(name: &str) -> Value {
    Value::Map(vec![
        (Value::str("type"), Value::str("txn")),
        (Value::str("time"), Value::Float(1.5)),
        (Value::str("test"), Value::str("m:s")),
        (Value::str("journey"), Value::str("m:j")),
        (Value::str("transaction"), Value::str(name)),
        (Value::str("transaction_id"), Value::UInt(3)),
        (Value::str("had_error"), Value::Bool(false)),
    ])
}

#[test]
fn endpoints_are_checked_before_libzmq_sees_them() {
    assert!(check_endpoint("tcp://127.0.0.1:14302").is_ok());
    assert!(check_endpoint("tcp://*:14302").is_ok());
    assert!(check_endpoint("tcp://127.0.0.1:*").is_ok());
    assert!(check_endpoint("ipc:///tmp/x").is_ok());
    assert!(check_endpoint("inproc://bus").is_ok());
    for bad in [
        "127.0.0.1:14302",
        "tcp://127.0.0.1",
        "tcp://h:99999",
        "udp://h:1",
        "tcp://",
    ] {
        let e = check_endpoint(bad).unwrap_err().to_string();
        assert!(e.contains(bad), "{e}");
    }
}

#[test]
fn a_frame_becomes_a_message_with_every_key_a_field() {
    let msg = message_from_frame(&frame(&txn("__root__"))).unwrap();
    assert_eq!(&*msg.kind, "txn");
    assert_eq!(msg.time, 1.5);
    assert_eq!(msg.get("transaction"), Some(&Value::str("__root__")));
    assert_eq!(msg.get("time"), Some(&Value::Float(1.5)));
    assert!(msg.get("type").is_none());
}

#[test]
fn a_frames_transaction_is_the_messages_and_survives_encoding_again() {
    let msg = message_from_frame(&frame(&txn("__root__ :: Browse"))).unwrap();
    assert_eq!(msg.transaction_name(), Some("__root__ :: Browse"));
    let mut again = Vec::new();
    msg.encode(&mut again);
    let again = message_from_frame(&again).unwrap();
    assert_eq!(
        again.get("transaction"),
        Some(&Value::str("__root__ :: Browse"))
    );
    assert_eq!(again.get("transaction_id"), Some(&Value::UInt(3)));
    assert_eq!(again.get("journey"), Some(&Value::str("m:j")));

    let outside = Value::Map(vec![
        (Value::str("type"), Value::str("error")),
        (Value::str("transaction"), Value::Nil),
        (Value::str("transaction_id"), Value::Nil),
    ]);
    let msg = message_from_frame(&frame(&outside)).unwrap();
    assert!(msg.has_transaction_keys && msg.transaction.is_none());
    // Odd types stay what they were: plain fields.
    let odd = Value::Map(vec![
        (Value::str("type"), Value::str("x")),
        (Value::str("transaction"), Value::Int(7)),
    ]);
    let msg = message_from_frame(&frame(&odd)).unwrap();
    assert!(!msg.has_transaction_keys);
    assert_eq!(msg.get("transaction"), Some(&Value::UInt(7)));
}

#[test]
fn frames_that_are_not_messages_are_told_apart() {
    let cases = [
        (vec![0xc1], "not msgpack"),
        (frame(&Value::Array(vec![])), "array, not a map"),
        (
            frame(&Value::Map(vec![(Value::str("a"), Value::Int(1))])),
            "without a string \"type\"",
        ),
        (
            frame(&Value::Map(vec![(Value::Int(1), Value::Int(1))])),
            "key that is not a string",
        ),
    ];
    for (bytes, expected) in cases {
        let e = message_from_frame(&bytes).unwrap_err().to_string();
        assert!(e.contains(expected), "{e}");
    }
    let mut two = frame(&txn("a"));
    two.extend(frame(&txn("b")));
    assert!(message_from_frame(&two)
        .unwrap_err()
        .to_string()
        .contains("after the message"));
    let mut cut = frame(&txn("a"));
    cut.truncate(cut.len() - 3);
    assert!(message_from_frame(&cut).is_err());
}

#[test]
fn an_inbox_skips_multi_part_and_hands_out_single_frames() {
    let context = zmq::Context::new();
    let mut inbox = Inbox::open(&context, "inproc://skip", Attach::Bind, "test").unwrap();
    let push = context.socket(zmq::PUSH).unwrap();
    push.connect("inproc://skip").unwrap();
    push.send_multipart([&b"a"[..], &b"b"[..]], 0).unwrap();
    push.send(&b"whole"[..], 0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < deadline {
        if let Received::Frame(f) = inbox.recv().unwrap() {
            got = f.to_vec();
        }
    }
    assert_eq!(got, b"whole");
    assert_eq!(inbox.complaints().total(), 1);
}

#[test]
fn the_duplicator_and_stats_loops_carry_messages_to_the_exporter() {
    // Over loopback tcp with ports of our own: duplicator -> stats -> exporter, as mite's
    // topology, each loop on its own thread, stopped by the signal flag.
    let port = |_: u8| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (dup_in, dup_out, stats_out) = (
        format!("tcp://127.0.0.1:{}", port(0)),
        format!("tcp://127.0.0.1:{}", port(1)),
        format!("tcp://127.0.0.1:{}", port(2)),
    );
    let web = format!("127.0.0.1:{}", port(3));
    let signals = Box::leak(Box::new(StopSignals::install().unwrap()));
    let signals: &'static StopSignals = signals;
    let threads = [
        {
            let (i, o) = (dup_in.clone(), dup_out.clone());
            thread::spawn(move || run_duplicator(&i, &[o], signals).map(|_| ()))
        },
        {
            let (i, o) = (dup_out.clone(), stats_out.clone());
            thread::spawn(move || {
                let table = crate::prometheus::StatTable::new(crate::prometheus::mite_stats());
                let options = StatsOptions {
                    in_address: &i,
                    out_address: &o,
                    table,
                    extra: None,
                };
                run_stats(options, signals).map(|_| ())
            })
        },
        {
            let (i, w) = (stats_out.clone(), web.clone());
            thread::spawn(move || run_exporter(&i, &w, signals).map(|_| ()))
        },
    ];
    let context = zmq::Context::new();
    let sender = context.socket(zmq::PUSH).unwrap();
    sender.connect(&dup_in).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    // PUSH to a duplicator output without a peer drops: keep sending until counted.
    while Instant::now() < deadline {
        sender.send(frame(&txn("__root__")), 0).unwrap();
        thread::sleep(Duration::from_millis(50));
        text = http_get(&web);
        if text.contains("transaction=\"__root__\",had_error=\"False\"}") {
            break;
        }
    }
    assert!(
        text.contains("# TYPE mite_transaction_total counter"),
        "{text}"
    );
    assert!(text.contains("had_error=\"False\"}"), "{text}");
    // Ask the loops to stop as a signal would.
    unsafe { libc::raise(libc::SIGTERM) };
    assert_eq!(signals.stopped_by(), Some(StoppedBy::Terminate));
    for t in threads {
        t.join().unwrap().unwrap();
    }
}

fn http_get(address: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return String::new();
    };
    let _ = write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}
