//! Replays the committed seed corpus (`fuzz/corpus/<target>/*`) through the
//! fuzz entries on the stable toolchain: a crash a fuzzer once found, and
//! whose input was added to the corpus, fails `cargo test` if it returns.
//!
//! `CLIENTCREDS_FUZZ_CORPUS=<dir>` replays `<dir>/<target>/*` as well (a
//! fuzzer's own, larger corpus), for a check of a parser change against
//! everything a past run found interesting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::fs;
use std::path::{Path, PathBuf};

use clientcreds_fuzz_entries::{Outcome, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every file of one target's corpus, sorted so a failure names a stable file.
fn corpus(target: &str) -> Vec<PathBuf> {
    files_in(&fuzz_dir().join("corpus").join(target))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_its_entry() {
    for (target, entry) in TARGETS {
        let files = corpus(target);
        assert!(files.len() >= 3, "{target}: only {} seeds", files.len());
        let mut seen = Vec::new();
        for file in files {
            let data = fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| entry(&data));
            let Ok(outcome) = outcome else {
                panic!("{target}: {} crashes", file.display());
            };
            seen.push(outcome);
        }
        // The seeds reach both paths: a broken fixture or rotten seeds
        // cannot make this replay pass without exercising the parser.
        for wanted in [Outcome::Accepted, Outcome::Refused] {
            assert!(seen.contains(&wanted), "{target}: no seed is {wanted:?}");
        }
    }
}

#[test]
fn an_extra_corpus_passes_too() {
    let Some(extra) = std::env::var_os("CLIENTCREDS_FUZZ_CORPUS") else {
        return;
    };
    for (target, entry) in TARGETS {
        let dir = Path::new(&extra).join(target);
        if !dir.is_dir() {
            continue;
        }
        let files = files_in(&dir);
        for file in &files {
            // A fuzzer still running on that directory replaces files as it
            // minimizes them: one that vanished since the listing is skipped.
            let Ok(data) = fs::read(file) else {
                continue;
            };
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(outcome.is_ok(), "{target}: {} crashes", file.display());
        }
        println!("{target}: {} files replayed", files.len());
    }
}

#[test]
fn every_fuzz_target_has_an_entry_and_a_corpus() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            let line = section.lines().find(|l| l.starts_with("name = "))?;
            Some(line.trim_start_matches("name = ").trim_matches('"'))
        })
        .collect();
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(bins, names, "fuzz/Cargo.toml and TARGETS differ");
    for name in names {
        let target =
            fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            target.contains(&format!("clientcreds_fuzz_entries::{name}(data)")),
            "fuzz_targets/{name}.rs does not call its entry"
        );
        assert!(
            fuzz_dir().join("corpus").join(name).is_dir(),
            "no corpus for {name}"
        );
    }
}

/// The client-assertion seeds say in their names what the registry makes
/// of them: exactly the `*_valid*` ones authenticate (so neither a broken
/// fixture nor an oracle that accepts too much passes unnoticed).
#[test]
fn client_assertion_seeds_are_decided_as_named() {
    let entry = clientcreds_fuzz_entries::client_assertion;
    for file in corpus("client_assertion") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let outcome = entry(&fs::read(&file).unwrap());
        let valid = name.starts_with("signed_valid") || name.starts_with("form_valid");
        let want = if valid {
            Outcome::Accepted
        } else {
            Outcome::Refused
        };
        assert_eq!(outcome, want, "{name}");
    }
}
