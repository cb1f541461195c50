//! Secrets — the Slack bot and app tokens, the signing secret — read one way: from the
//! environment variable `NAME`, or from the file named by `NAME_FILE` (a mounted Kubernetes
//! Secret). Never from the config file.
//!
//! One rule for every secret: an empty or blank variable counts as unset; setting both is an
//! error; the file's content is trimmed and an empty file is an error. Errors name the variable
//! and the file, never the value; [`Secret`]'s `Debug` hides it.

use std::path::PathBuf;

/// A secret value. `Debug` shows `***`; the value is only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("both {name} and {name}_FILE are set: set only one")]
    Both { name: String },
    #[error("{name}_FILE: cannot read {}: {source}", path.display())]
    Read {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}_FILE: the file {} is empty", path.display())]
    Empty { name: String, path: PathBuf },
}

/// Reads secret `name` from the process environment (see the module doc for the rule).
pub fn from_env(name: &str) -> Result<Option<Secret>, SecretError> {
    from_lookup(name, |var| std::env::var(var).ok())
}

/// [`from_env`] with the variables read through `lookup` (for tests).
pub fn from_lookup(
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, SecretError> {
    let set = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
    let file_var = format!("{name}_FILE");
    match (set(name), set(&file_var)) {
        (Some(_), Some(_)) => Err(SecretError::Both {
            name: name.to_string(),
        }),
        (Some(value), None) => Ok(Some(Secret(value.trim().to_string()))),
        (None, Some(file)) => {
            let path = PathBuf::from(file.trim());
            let content = std::fs::read_to_string(&path).map_err(|source| SecretError::Read {
                name: name.to_string(),
                path: path.clone(),
                source,
            })?;
            let value = content.trim();
            if value.is_empty() {
                return Err(SecretError::Empty {
                    name: name.to_string(),
                    path,
                });
            }
            Ok(Some(Secret(value.to_string())))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn one_rule_for_every_secret() {
        let dir = tempfile::tempdir().expect("dir");
        let full = dir.path().join("full");
        let empty = dir.path().join("empty");
        std::fs::write(&full, "s3cr3t-value\n").expect("write");
        std::fs::write(&empty, " \n").expect("write");
        let full = full.to_str().expect("path");
        let empty = empty.to_str().expect("path");

        assert!(from_lookup("X", lookup(&[])).expect("unset").is_none());
        assert!(
            from_lookup("X", lookup(&[("X", " "), ("X_FILE", "")]))
                .expect("blank is unset")
                .is_none()
        );
        let v = from_lookup("X", lookup(&[("X", " abc\n")])).expect("env");
        assert_eq!(v.map(|s| s.expose().to_string()).as_deref(), Some("abc"));
        let v = from_lookup("X", lookup(&[("X_FILE", full)])).expect("file");
        assert_eq!(
            v.map(|s| s.expose().to_string()).as_deref(),
            Some("s3cr3t-value")
        );
        let both = from_lookup("X", lookup(&[("X", "a"), ("X_FILE", full)])).unwrap_err();
        assert!(both.to_string().contains("set only one"));
        let e = from_lookup("X", lookup(&[("X_FILE", empty)])).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
        let e = from_lookup("X", lookup(&[("X_FILE", "/nonexistent/x")])).unwrap_err();
        assert!(
            e.to_string().contains("X_FILE: cannot read /nonexistent/x"),
            "{e}"
        );
        let shown = format!("{:?}", from_lookup("X", lookup(&[("X_FILE", full)])));
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
