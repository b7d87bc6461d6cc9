//! Issue a client id and a secret, keep only the hash, and check what
//! callers present: `cargo run --example secrets`.

#![allow(clippy::print_stdout)]

use clientcreds_secret::{CredentialFormat, Error, PepperKey, Secret, SecretHasher, Verification};

fn main() -> Result<(), Error> {
    // At start-up: the prefix secret scanners will look for, and the pepper
    // (in production, from your secret manager; never beside the database).
    let format = CredentialFormat::new("acme_")?;
    let hasher = SecretHasher::hmac_sha256(PepperKey::new(
        "2026-11",
        b"an example pepper of 32+ bytes!!",
    )?)?;

    // An administrator creates a client.
    let client_id = format.generate_client_id()?;
    let issued = format.generate_secret()?;
    let stored_hash = hasher.hash(issued.secret())?;
    println!("client_id      {client_id}");
    println!(
        "client_secret  {}   <- shown once, never stored",
        issued.secret().expose_secret()
    );
    println!(
        "stored         secret id {}, display prefix {}, hash ({:?})",
        issued.secret_id(),
        issued.display_prefix(),
        stored_hash
    );
    println!("scanner regex  {}", format.secret_regex());
    let presented = issued.into_secret().expose_secret().to_owned();

    // A caller presents credentials: format first (no database, no hash), then one hash.
    let check = |text: &str| -> Result<Verification, Error> {
        let secret = Secret::from(text);
        let secret_id = format.parse_secret(&secret)?;
        // A real server now loads the record named by `secret_id`.
        let _ = secret_id;
        hasher.verify(&secret, &stored_hash)
    };
    println!();
    println!("the real secret      -> {:?}", check(&presented));
    let mut typo = presented.clone();
    typo.replace_range(30..31, if &presented[30..31] == "x" { "y" } else { "x" });
    println!(
        "one character off    -> {}",
        check(&typo).map_or_else(|e| format!("refused offline: {e}"), |v| format!("{v:?}"))
    );
    println!(
        "truncated            -> {}",
        check(&presented[..40])
            .map_or_else(|e| format!("refused offline: {e}"), |v| format!("{v:?}"))
    );
    println!(
        "a client id instead  -> {}",
        check(client_id.as_str())
            .map_or_else(|e| format!("refused offline: {e}"), |v| format!("{v:?}"))
    );
    println!(
        "unknown client       -> {:?} (same cost as a wrong secret)",
        hasher.verify_dummy(&Secret::from(presented.as_str()))
    );
    Ok(())
}
