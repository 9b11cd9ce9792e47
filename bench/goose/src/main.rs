//! Goose running the benchmark shapes of `bench/journeys/shapes.py`, chosen by `BENCH_SHAPE`
//! (`a`, `b` or `c`); every other setting comes from Goose's own command line (`--host`,
//! `--users`, `--increase-rate`, `--run-time`, ...). Prints one summary line for bench/run.

use std::time::Duration;

use goose::prelude::*;

/// (a): one request per iteration.
async fn one_request(user: &mut GooseUser) -> TransactionResult {
    user.get("/").await?;
    Ok(())
}

/// (b): a thousand requests per iteration.
async fn thousand_requests(user: &mut GooseUser) -> TransactionResult {
    for _ in 0..1000 {
        user.get("/").await?;
    }
    Ok(())
}

/// (c): one request a second, measured from the start of one request to the start of the next,
/// as mite's `ensure_fixed_separation(1)` does.
async fn paced_request(user: &mut GooseUser) -> TransactionResult {
    let started = tokio::time::Instant::now();
    user.get("/").await?;
    tokio::time::sleep_until(started + Duration::from_secs(1)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let shape = std::env::var("BENCH_SHAPE").unwrap_or_default();
    let scenario = match shape.as_str() {
        "a" => scenario!("a").register_transaction(transaction!(one_request)),
        "b" => scenario!("b").register_transaction(transaction!(thousand_requests)),
        "c" => scenario!("c").register_transaction(transaction!(paced_request)),
        _ => {
            eprintln!("goose-bench: set BENCH_SHAPE to a, b or c");
            std::process::exit(2);
        }
    };
    let metrics = GooseAttack::initialize()?
        .register_scenario(scenario)
        .execute()
        .await?;
    let (ok, failed) = metrics
        .requests
        .values()
        .fold((0, 0), |(ok, failed), r| (ok + r.success_count, failed + r.fail_count));
    println!("goose-bench: requests={} errors={}", ok + failed, failed);
    Ok(())
}
