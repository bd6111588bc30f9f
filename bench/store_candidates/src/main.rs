//! What one registration costs the single store writer, candidate by candidate
//! (docs/benchmarks.md, "The store"): N registrations (a typical record of
//! ~740 bytes of JSON and a 43-character secret, random 22-character ids), in
//! groups of G, each group committed durably (fsync) once, on one thread;
//! prints the process CPU time and wall time per registration.
//!
//!     cargo run --release -- CANDIDATE [N=40000] [G=32] [DIR=/tmp/cand-data]
//!
//! CANDIDATE: redb2 (a record table and a secret table, the earlier store),
//! redb1 (one table holding both), log (an append-only log and an in-memory
//! index, the store now), fjall (an LSM tree); encode-json, encode-msgpack,
//! decode-json, decode-msgpack, clone (the costs of the encodings alone).
//! Not part of the workspace; not a test.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("client_secrets");

#[derive(Serialize, Deserialize, Clone)]
struct Rec {
    client_id: String, state: String, metadata: Map<String, Value>, issued_at: i64, has_secret: bool,
    secret_expires_at: i64, token_hash: Option<String>, token_expires_at: i64,
    previous_token_hash: Option<String>, previous_token_expires_at: i64, owner: Option<String>,
    software_id: Option<String>, software_statement: Option<String>, expires_at: i64,
    retry_until: i64, version: u64, updated_at: i64, sweep_at: i64,
}

fn cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

struct Rng(u64);
impl Rng { fn next(&mut self) -> u64 { self.0 ^= self.0 << 13; self.0 ^= self.0 >> 7; self.0 ^= self.0 << 17; self.0 } }
fn id(r: &mut Rng) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..22).map(|_| A[(r.next() % 64) as usize] as char).collect()
}
fn record(id: &str) -> Rec {
    let metadata = json!({"redirect_uris":["https://app.example.com/cb","https://app.example.com/cb2"],"client_name":"Bench App 2","client_uri":"https://app.example.com","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"client_secret_post","application_type":"web","id_token_signed_response_alg":"RS256"});
    Rec { client_id: id.into(), state: "active".into(), metadata: metadata.as_object().unwrap().clone(), issued_at: 1795398000,
      has_secret: true, secret_expires_at: 0, token_hash: Some("Yx3K0kQ2yH6Zs1wJmD9uFQ5tqJ0kQ2yH6Zs1wJmD9uF".into()), token_expires_at: 0,
      previous_token_hash: None, previous_token_expires_at: 0, owner: None, software_id: None, software_statement: None,
      expires_at: 0, retry_until: 0, version: 1, updated_at: 1795398000, sweep_at: 0 }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args[1].as_str();
    let n: usize = args.get(2).map_or(40000, |s| s.parse().unwrap());
    let g: usize = args.get(3).map_or(32, |s| s.parse().unwrap());
    let dir = std::path::PathBuf::from(args.get(4).cloned().unwrap_or("/tmp/cand-data".into()));
    let _ = std::fs::remove_dir_all(&dir); std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let secret = "s".repeat(43);
    let recs: Vec<Rec> = (0..n).map(|_| record(&id(&mut rng))).collect();
    let (c0, t0) = (cpu(), Instant::now());
    match which {
        "encode-json" => { let mut t = 0; for r in &recs { t += serde_json::to_vec(r).unwrap().len(); } eprintln!("bytes/rec {}", t / n); }
        "encode-msgpack" => { let mut t = 0; for r in &recs { t += rmp_serde::to_vec_named(r).unwrap().len(); } eprintln!("bytes/rec {}", t / n); }
        "decode-json" => { let v: Vec<_> = recs.iter().map(|r| serde_json::to_vec(r).unwrap()).collect(); let (c0, _) = (cpu(), ()); for b in &v { let _r: Rec = serde_json::from_slice(b).unwrap(); } eprintln!("decode only {:.2} us", (cpu()-c0)*1e6/n as f64); }
        "decode-msgpack" => { let v: Vec<_> = recs.iter().map(|r| rmp_serde::to_vec_named(r).unwrap()).collect(); let c0 = cpu(); for b in &v { let _r: Rec = rmp_serde::from_slice(b).unwrap(); } eprintln!("decode only {:.2} us", (cpu()-c0)*1e6/n as f64); }
        "clone" => { let mut k = 0; for r in &recs { let c = r.clone(); k += c.client_id.len(); } eprintln!("{k}"); }
        "redb2" | "redb1" => {
            let db = Database::builder().set_cache_size(64 << 20).create(dir.join("x.redb")).unwrap();
            { let t = db.begin_write().unwrap(); t.open_table(CLIENTS).unwrap(); t.open_table(SECRETS).unwrap(); t.commit().unwrap(); }
            for chunk in recs.chunks(g) {
                let mut txn = db.begin_write().unwrap();
                txn.set_durability(Durability::Immediate).unwrap();
                {
                    let mut c = txn.open_table(CLIENTS).unwrap();
                    let mut s = txn.open_table(SECRETS).unwrap();
                    for r in chunk {
                        assert!(c.get(r.client_id.as_str()).unwrap().is_none());
                        let mut bytes = serde_json::to_vec(r).unwrap();
                        if which == "redb1" { bytes.extend_from_slice(secret.as_bytes()); c.insert(r.client_id.as_str(), bytes.as_slice()).unwrap(); }
                        else { c.insert(r.client_id.as_str(), bytes.as_slice()).unwrap(); s.insert(r.client_id.as_str(), secret.as_bytes()).unwrap(); }
                    }
                }
                txn.commit().unwrap();
            }
        }
        "log" => {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("x.log")).unwrap();
            let mut index: HashMap<String, (Rec, String)> = HashMap::new();
            let mut buf = Vec::with_capacity(64 << 10);
            for chunk in recs.chunks(g) {
                buf.clear();
                let mut staged = Vec::with_capacity(chunk.len());
                for r in chunk {
                    assert!(!index.contains_key(&r.client_id));
                    let start = buf.len();
                    buf.extend_from_slice(&[0u8; 8]);
                    serde_json::to_writer(&mut buf, r).unwrap();
                    buf.extend_from_slice(secret.as_bytes());
                    let len = (buf.len() - start - 8) as u32;
                    let crc = crc32fast::hash(&buf[start + 8..]);
                    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
                    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
                    staged.push((r.client_id.clone(), (r.clone(), secret.clone())));
                }
                f.write_all(&buf).unwrap();
                f.sync_data().unwrap();
                index.extend(staged);
            }
        }
        "fjall" => {
            let ks = fjall::Config::new(dir.join("fj")).open().unwrap();
            let c = ks.open_partition("clients", Default::default()).unwrap();
            let s = ks.open_partition("secrets", Default::default()).unwrap();
            for chunk in recs.chunks(g) {
                let mut b = ks.batch();
                for r in chunk {
                    assert!(c.get(r.client_id.as_bytes()).unwrap().is_none());
                    let bytes = serde_json::to_vec(r).unwrap();
                    b.insert(&c, r.client_id.as_bytes(), bytes);
                    b.insert(&s, r.client_id.as_bytes(), secret.as_bytes());
                }
                b.commit().unwrap();
                ks.persist(fjall::PersistMode::SyncData).unwrap();
            }
        }
        _ => panic!("which?"),
    }
    let (cpu_s, wall) = (cpu() - c0, t0.elapsed().as_secs_f64());
    println!("{which:14} n={n} group={g}: process CPU {:.2} us/op, wall {:.2} us/op", cpu_s * 1e6 / n as f64, wall * 1e6 / n as f64);
}
