//! `MasterKeys::from_env` and `from_vars`: the variable or its `_FILE`
//! variant, trimmed, typed errors that never show a key byte; and the
//! documented shell recipe for a key makes one that parses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::Command;

use clientcreds_secret::{Error, MASTER_KEYS_FILE_VAR, MASTER_KEYS_VAR, MasterKeys};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// The key bytes of K1, which no message may contain.
const K1_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn from(vars: &[(&str, &str)]) -> Result<MasterKeys, Error> {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(*v)))
        .collect();
    MasterKeys::from_vars(|name| map.get(name).cloned())
}

/// The message of `error` and of every error in its chain.
fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(" / ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[test]
fn the_variable_or_its_file_trimmed() {
    let keys = from(&[(MASTER_KEYS_VAR, &format!("  {K1}\n"))]).unwrap();
    assert_eq!(keys.current_id(), "k1");

    let dir = std::env::temp_dir().join(format!("clientcreds-from-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("master-keys");
    std::fs::write(&file, format!("{K1}\n\n")).unwrap();
    let keys = from(&[(MASTER_KEYS_FILE_VAR, file.to_str().unwrap())]).unwrap();
    assert_eq!(keys.current_id(), "k1");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_refusal_is_typed_and_shows_no_key() {
    assert!(matches!(from(&[]), Err(Error::MasterKeysNotSet { .. })));
    let twice = from(&[
        (MASTER_KEYS_VAR, K1),
        (MASTER_KEYS_FILE_VAR, "/nonexistent"),
    ])
    .unwrap_err();
    assert!(
        matches!(twice, Error::MasterKeysSetTwice { .. }),
        "{twice:?}"
    );
    assert!(!chain(&twice).contains(K1_KEY));

    let missing = from(&[(MASTER_KEYS_FILE_VAR, "/nonexistent/clientcreds-keys")]).unwrap_err();
    assert!(
        matches!(&missing, Error::MasterKeysFile { kind: std::io::ErrorKind::NotFound, path, .. } if path == "/nonexistent/clientcreds-keys"),
        "{missing:?}"
    );

    // A truncated key: the source says why, and no message holds the key.
    let truncated = &K1[..K1.len() - 8];
    let weak = from(&[(MASTER_KEYS_VAR, truncated)]).unwrap_err();
    match &weak {
        Error::MasterKeysInvalid { from, source } => {
            assert_eq!(*from, MASTER_KEYS_VAR);
            assert!(
                matches!(**source, Error::WeakMasterKey { .. }),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let text = chain(&weak);
    assert!(!text.contains(&truncated[3..]), "{text}");
    assert!(text.contains(MASTER_KEYS_VAR), "{text}");
    assert!(!format!("{weak:?}").contains(&truncated[3..]));

    // Whitespace only is no key at all.
    let empty = from(&[(MASTER_KEYS_VAR, " \n ")]).unwrap_err();
    assert!(
        matches!(&empty, Error::MasterKeysInvalid { source, .. } if **source == Error::NoMasterKeys),
        "{empty:?}"
    );
}

/// `from_env` reads the real environment: a child run of this test binary
/// with the variable set (tests may not set variables in their own
/// process) reports what it parsed.
#[test]
fn from_env_reads_the_process_environment() {
    if std::env::var_os("CLIENTCREDS_FROM_ENV_CHILD").is_some() {
        let keys = MasterKeys::from_env().unwrap();
        assert_eq!(keys.current_id(), "k1");
        return;
    }
    let run = |vars: &[(&str, &str)]| {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "from_env_reads_the_process_environment",
                "--nocapture",
            ])
            .env("CLIENTCREDS_FROM_ENV_CHILD", "1")
            .env_remove(MASTER_KEYS_VAR)
            .env_remove(MASTER_KEYS_FILE_VAR);
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let ok = run(&[(MASTER_KEYS_VAR, &format!("{K1}\n"))]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // Unset: the child's `from_env` fails (its unwrap panics).
    let unset = run(&[]);
    assert!(!unset.status.success());
    let output = String::from_utf8_lossy(&unset.stdout).into_owned()
        + &String::from_utf8_lossy(&unset.stderr);
    assert!(output.contains("MasterKeysNotSet"), "{output}");
}

/// The recipe in `MasterKeys::generate_entry`'s docs, run by `sh`.
#[test]
fn the_documented_shell_recipe_makes_a_key_that_parses() {
    let recipe =
        r#"printf 'k1:%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')""#;
    let source = include_str!("../src/master.rs");
    assert!(
        source.contains(recipe),
        "the test runs the documented recipe"
    );
    let output = Command::new("sh").args(["-c", recipe]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let keys = MasterKeys::parse(text.trim()).unwrap();
    assert_eq!(keys.current_id(), "k1");
}
