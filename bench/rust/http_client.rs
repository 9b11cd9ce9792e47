//! The HTTP engine alone, without Python: N concurrent loops of GET requests against a URL for
//! a number of seconds, on one tokio worker (as in a runner). The ceiling mite-rs's journeys can
//! approach, measured in the same run as the tools in `bench/run`.
//!
//!     cargo bench --bench http_client -- http://127.0.0.1:8300/ 10 50

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mite_core::http::{CookieJar, HttpClient, HttpClientConfig, RequestSpec};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8300/".into());
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client = Arc::new(HttpClient::new(HttpClientConfig::default()));
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, done, count, errors, url) = (
                client.clone(),
                done.clone(),
                count.clone(),
                errors.clone(),
                url.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let jar = Arc::new(CookieJar::new());
                while !done.load(Ordering::Relaxed) {
                    let exchange = client
                        .execute(RequestSpec::new("GET", &url), jar.clone())
                        .await;
                    if exchange.error.is_some() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    } else {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        done.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = task.await;
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let n = count.load(Ordering::Relaxed);
    println!(
        "{n} requests in {elapsed:.2} s: {:.0} req/s ({} errors)",
        n as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
}
