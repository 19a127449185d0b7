#![cfg(feature = "__fuzz")]
//! Runs the fuzz bodies of `apify_core::fuzzing` on stable, without cargo-fuzz: every file
//! of the committed corpus `fuzz/corpus/<target>/`, then deterministic pseudo-random inputs
//! (fresh bytes and mutations of the seeds), so CI checks the fuzz properties on each run.
//!
//! Run with `cargo test -p apify-core --features __fuzz --test fuzz_corpus`.

use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

use apify_core::fuzzing;
use apify_core::retry::SeededJitter;

type Body = fn(&[u8]);

/// Generated inputs per target; a few thousand keep the suite at a few seconds.
const SMOKE_INPUTS: usize = 3000;

/// Every file of the target's corpus directory, sorted by name. The committed seeds must be
/// there: an empty or missing corpus would make the replay pass vacuously.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display())).path())
        .filter(|path| path.is_file())
        .map(|path| {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, data)
        })
        .collect();
    files.sort();
    let seeds = files
        .iter()
        .filter(|(path, _)| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")))
        .count();
    assert!(seeds >= 10, "corpus {} holds {seeds} seed files, expected at least 10", dir.display());
    files
}

/// Runs `body` on `data`; on a failure, names the input as a byte literal to paste into a
/// regression test (the body's own panic message, printed above, names the property).
fn run(target: &str, body: Body, name: &str, data: &[u8]) {
    if catch_unwind(|| body(data)).is_err() {
        panic!("fuzz body `{target}` failed on {name}: {}", fuzzing::byte_literal(data));
    }
}

fn replay(target: &str, body: Body) {
    for (path, data) in corpus(target) {
        run(target, body, &path.display().to_string(), &data);
    }
}

/// A tiny deterministic generator (SplitMix64, via the core's seeded jitter).
struct Rng(SeededJitter);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.0.next_u64() % n.max(1) as u64).expect("below n")
    }

    fn byte(&mut self) -> u8 {
        self.0.next_u64().to_le_bytes()[0]
    }
}

/// Bytes that matter to the parsers under test, so mutations hit their edge cases.
const INTERESTING: &[u8] = b"\0\xFF\"\\\n\r\t [],{}:0-eE.tfnu\xC3\xA9\xEF\xBB\xBF\xF0\x9F";

/// One input: fresh random bytes, or a seed with a few mutations (bit flips, random or
/// interesting bytes, insertions, deletions, truncation, splices of another seed).
fn generate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if seeds.is_empty() || rng.below(5) == 0 {
        let len = rng.below(300);
        return (0..len).map(|_| rng.byte()).collect();
    }
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(8) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 if at < data.len() => data[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => data.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 => {
                let end = (at + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            4 => data.truncate(at),
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            6 if at < data.len() => data[at] = rng.byte(),
            // The control bytes at the front steer splits, limits and setups.
            _ if !data.is_empty() => {
                let i = rng.below(data.len().min(8));
                data[i] = rng.byte();
            }
            _ => {}
        }
    }
    data
}

fn smoke(target: &str, body: Body, seed: u64) {
    let seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, data)| data).collect();
    let mut rng = Rng(SeededJitter::new(seed));
    for i in 0..SMOKE_INPUTS {
        let data = generate(&mut rng, &seeds);
        run(target, body, &format!("smoke input {i}"), &data);
    }
}

#[test]
fn response_corpus() {
    replay("response", fuzzing::response);
}

#[test]
fn json_array_corpus() {
    replay("json_array", fuzzing::json_array);
}

#[test]
fn lines_corpus() {
    replay("lines", fuzzing::lines);
}

#[test]
fn retry_corpus() {
    replay("retry", fuzzing::retry);
}

#[test]
fn response_smoke() {
    smoke("response", fuzzing::response, 1);
}

#[test]
fn json_array_smoke() {
    smoke("json_array", fuzzing::json_array, 2);
}

#[test]
fn lines_smoke() {
    smoke("lines", fuzzing::lines, 3);
}

#[test]
fn retry_smoke() {
    smoke("retry", fuzzing::retry, 4);
}

#[test]
fn log_messages_corpus() {
    replay("log_messages", fuzzing::log_messages);
}

#[test]
fn log_messages_smoke() {
    smoke("log_messages", fuzzing::log_messages, 5);
}

#[test]
fn job_models_corpus() {
    replay("job_models", fuzzing::job_models);
}

#[test]
fn job_models_smoke() {
    smoke("job_models", fuzzing::job_models, 6);
}

/// The one-split bodies on every committed seed cut at every point: the first two bytes pick
/// the split, so each `at` below the seed's length (well under 65536) is one cut. Only the
/// seeds: a local campaign leaves thousands of files in the corpus, too many to sweep.
fn every_split(target: &str, head: usize, body: Body) {
    let seeds = corpus(target)
        .into_iter()
        .filter(|(path, _)| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")));
    for (path, mut data) in seeds {
        data.resize(data.len().max(head), 0);
        for at in 0..=data.len() - head {
            let cut = u16::try_from(at).expect("a small seed").to_be_bytes();
            data[..2].copy_from_slice(&cut);
            run(target, body, &format!("{} cut at {at}", path.display()), &data);
        }
    }
}

#[test]
fn json_array_split_seeds() {
    every_split("json_array", 3, fuzzing::json_array_split);
}

#[test]
fn lines_split_seeds() {
    every_split("lines", 3, fuzzing::lines_split);
}

#[test]
fn log_messages_split_seeds() {
    every_split("log_messages", 2, fuzzing::log_messages_split);
}

/// The first call of every retry seed and of the generated inputs.
#[test]
fn retry_one_seeds() {
    replay("retry", fuzzing::retry_one);
    smoke("retry", fuzzing::retry_one, 7);
}
