//! Problems found in input: one record naming the object, the field and what is wrong.
//!
//! Every layer (snapshot loading, config, rollout plan, templates) reports bad input as a
//! [`Problem`] and carries on with the rest. Nothing here may panic or stop a run; deciding
//! whether a problem is fatal is the caller's job (`check` exits 1 on any error).

use serde::Serialize;
use std::fmt;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The object or value was ignored; a notice may be missing because of it.
    Error,
    /// Worth fixing, but everything that could be decided was decided.
    Warning,
}

/// One finding about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// Where: a file and document, a policy, a namespace, a config key.
    pub object: String,
    /// The field inside the object, as a path (`spec.rules[0].validate.failureAction`).
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn error(
        object: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            object: object.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn warning(
        object: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(object, field, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.field.is_empty() {
            write!(f, "{level}: {}: {}", self.object, self.message)
        } else {
            write!(
                f,
                "{level}: {}: {}: {}",
                self.object, self.field, self.message
            )
        }
    }
}
