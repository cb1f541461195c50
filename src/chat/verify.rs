//! Slack request signing: proves that an incoming HTTP request (a slash command, an
//! interaction) really comes from Slack before anything in it is trusted.
//!
//! Implements Slack's documented scheme exactly: the basestring is
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`, the expected `X-Slack-Signature` is
//! `v0=` followed by the lowercase hex HMAC-SHA256 of that basestring keyed with the app's
//! signing secret, the comparison is constant-time, and the timestamp must lie within
//! [`MAX_SKEW_SECS`] of now in either direction (stale and future requests are refused, which
//! bounds replays). The clock is an argument so callers and tests can inject it.
//!
//! The signing secret must never be logged or printed: [`SigningSecret`]'s `Debug` is redacted,
//! and no [`VerifyError`] message contains the secret or a full signature.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The largest accepted distance, in seconds, between the request timestamp and now.
pub const MAX_SKEW_SECS: i64 = 300;

/// The only signature version Slack defines.
const VERSION_PREFIX: &str = "v0=";

/// An HMAC-SHA256 digest is 32 bytes.
const MAC_LEN: usize = 32;

/// The app's Slack signing secret. Its `Debug` never shows the value, and there is no
/// `Display`: the secret is only ever used as an HMAC key.
#[derive(Clone)]
pub struct SigningSecret(String);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl SigningSecret {
    /// Wraps a secret as given (no trimming).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// Reads the secret from `SLACK_SIGNING_SECRET` or the file named by
    /// `SLACK_SIGNING_SECRET_FILE` (the rule of [`crate::config::secret`]). `Ok(None)` when
    /// neither is set.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        Ok(
            crate::config::secret::from_lookup("SLACK_SIGNING_SECRET", lookup)?
                .map(|s| Self::new(s.expose())),
        )
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_bytes())
            .expect("HMAC accepts keys of any length")
    }
}

/// Why a request was refused. Messages name the problem only: never the secret, never a full
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    #[error("missing X-Slack-Signature header")]
    MissingSignature,
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// `skew_secs` is now minus the request timestamp: positive when the request is old,
    /// negative when it claims to come from the future.
    #[error(
        "request timestamp is {} s {} (more than {MAX_SKEW_SECS} s): refused as a possible replay",
        skew_secs.unsigned_abs(),
        if *skew_secs >= 0 { "old" } else { "in the future" }
    )]
    Stale { skew_secs: i64 },
    #[error("X-Slack-Signature is not of the form v0=<64 hex digits>")]
    BadSignatureFormat,
    #[error("X-Slack-Signature does not match the request")]
    Mismatch,
}

/// Computes the `X-Slack-Signature` value for a request: `v0=` + lowercase hex
/// HMAC-SHA256(secret, `v0:{timestamp}:{body}`).
pub fn sign(secret: &SigningSecret, timestamp: &str, body: &[u8]) -> String {
    let mac = digest(secret, timestamp, body);
    let mut out = String::with_capacity(VERSION_PREFIX.len() + 2 * MAC_LEN);
    out.push_str(VERSION_PREFIX);
    for byte in mac {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Verifies a request given its two Slack headers (as received, `None` when absent), its raw
/// body (exactly the bytes received, before any parsing) and the current Unix time.
pub fn verify(
    secret: &SigningSecret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), VerifyError> {
    let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
    let signature = signature.ok_or(VerifyError::MissingSignature)?;

    // Digits only: the header value goes into the basestring verbatim, so refuse anything
    // (sign, spaces) that would parse as the same number but sign differently.
    if timestamp.is_empty()
        || timestamp.len() > 18
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(VerifyError::BadTimestamp);
    }
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew_secs = now_unix.saturating_sub(ts);
    if skew_secs.unsigned_abs() > MAX_SKEW_SECS.unsigned_abs() {
        return Err(VerifyError::Stale { skew_secs });
    }

    let given = decode_signature(signature).ok_or(VerifyError::BadSignatureFormat)?;
    let expected = digest(secret, timestamp, body);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn digest(secret: &SigningSecret, timestamp: &str, body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = secret.mac();
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&bytes);
    out
}

/// `v0=` followed by exactly 64 hex digits (either case) → the 32 MAC bytes.
fn decode_signature(signature: &str) -> Option<[u8; MAC_LEN]> {
    let hex = signature.strip_prefix(VERSION_PREFIX)?.as_bytes();
    if hex.len() != 2 * MAC_LEN {
        return None;
    }
    let mut out = [0u8; MAC_LEN];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn value(secret: Option<SigningSecret>) -> Option<String> {
        secret.map(|s| s.0)
    }

    #[test]
    fn env_var_or_file_never_both() {
        let got =
            SigningSecret::from_lookup(lookup(&[("SLACK_SIGNING_SECRET", " abc\n")])).unwrap();
        assert_eq!(value(got).as_deref(), Some("abc"));
        let err = SigningSecret::from_lookup(lookup(&[
            ("SLACK_SIGNING_SECRET", "abc"),
            ("SLACK_SIGNING_SECRET_FILE", "/nonexistent"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("set only one"), "{err}");
    }

    #[test]
    fn unset_is_none_and_unreadable_file_is_an_error() {
        assert!(SigningSecret::from_lookup(lookup(&[])).unwrap().is_none());
        let err = SigningSecret::from_lookup(lookup(&[(
            "SLACK_SIGNING_SECRET_FILE",
            "/nonexistent/forewarn/secret",
        )]))
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/forewarn/secret"));
    }

    #[test]
    fn timestamp_must_be_plain_digits() {
        let secret = SigningSecret::new("k");
        let sig = sign(&secret, "100", b"");
        for bad in [
            "",
            "+100",
            " 100",
            "100 ",
            "-100",
            "1e2",
            "99999999999999999999",
        ] {
            assert_eq!(
                verify(&secret, Some(bad), Some(&sig), b"", 100),
                Err(VerifyError::BadTimestamp),
                "{bad:?}"
            );
        }
        assert_eq!(verify(&secret, Some("100"), Some(&sig), b"", 100), Ok(()));
    }

    #[test]
    fn uppercase_hex_is_the_same_mac() {
        let secret = SigningSecret::new("k");
        let sig = sign(&secret, "100", b"x");
        let upper = format!("v0={}", sig[3..].to_ascii_uppercase());
        assert_eq!(
            verify(&secret, Some("100"), Some(&upper), b"x", 100),
            Ok(())
        );
    }
}
