//! What the start-up check of the embedded store costs: fills a store with N
//! clients (each a full record and a secret, as a registration writes them),
//! then times `EmbeddedStore::open` (every frame's checksum checked and every
//! entry decoded into memory) and reports the memory the open store holds
//! (the growth of the process's resident set).
//!
//!     cargo run --release -p dcr-embedded --example startup_check -- [N] [DIR]
//!
//! N defaults to 100,000; DIR to a fresh temporary directory (removed after).
//! Figures: docs/benchmarks.md.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use dcr_core::testing::contract::full_record;
use dcr_core::{ClientSecret, ClientState, ClientStore as _};
use dcr_embedded::{DB_FILE_NAME, EmbeddedStore};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |a| a.parse().unwrap());
    let temp = tempfile::tempdir().unwrap();
    let dir = args
        .next()
        .map_or_else(|| temp.path().to_owned(), Into::into);

    let filled = Instant::now();
    {
        let store = EmbeddedStore::open(&dir).unwrap();
        // Concurrent registrations, so that group commit keeps the fill quick.
        let mut next = 0;
        while next < n {
            let batch: Vec<_> = (next..(next + 256).min(n))
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let id = format!("client-{i:08}");
                        store
                            .insert_with_secret(
                                &full_record(&id, ClientState::Active),
                                Some(&ClientSecret::new(format!("{id}-{}", "s".repeat(32)))),
                            )
                            .await
                            .unwrap();
                    })
                })
                .collect();
            for task in batch {
                task.await.unwrap();
            }
            next += 256;
        }
    }
    let size = std::fs::metadata(dir.join(DB_FILE_NAME)).unwrap().len();
    println!(
        "{n} clients, file {:.1} MiB, filled in {:.1} s",
        size as f64 / (1024.0 * 1024.0),
        filled.elapsed().as_secs_f64()
    );

    for round in 1..=3 {
        let before = resident_kib();
        let started = Instant::now();
        let store = EmbeddedStore::open(&dir).unwrap();
        let checked = started.elapsed();
        let held = resident_kib().saturating_sub(before);
        drop(store);
        println!(
            "round {round}: checked open {:.0} ms, resident set +{:.1} MiB",
            checked.as_secs_f64() * 1000.0,
            held as f64 / 1024.0
        );
    }
}

/// The process's resident set, in KiB (0 where /proc is not there).
fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
