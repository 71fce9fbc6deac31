//! serde's `rename_all` rules for field names, so that the payload keys are the ones the app's
//! own `Serialize` would write.

/// One of serde's `rename_all` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => Self::Lower,
            "UPPERCASE" => Self::Upper,
            "PascalCase" => Self::Pascal,
            "camelCase" => Self::Camel,
            "snake_case" => Self::Snake,
            "SCREAMING_SNAKE_CASE" => Self::ScreamingSnake,
            "kebab-case" => Self::Kebab,
            "SCREAMING-KEBAB-CASE" => Self::ScreamingKebab,
            _ => return None,
        })
    }

    /// The name serde gives a field called `field` (a snake_case Rust identifier).
    pub(crate) fn apply(self, field: &str) -> String {
        match self {
            Self::Lower | Self::Snake => field.to_owned(),
            Self::Upper | Self::ScreamingSnake => field.to_ascii_uppercase(),
            Self::Pascal => pascal(field),
            Self::Camel => {
                let p = pascal(field);
                let mut chars = p.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => p,
                }
            }
            Self::Kebab => field.replace('_', "-"),
            Self::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

fn pascal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::RenameRule::{self, *};

    fn check(rule: RenameRule, field: &str, expected: &str) {
        assert_eq!(rule.apply(field), expected, "{rule:?} {field}");
    }

    #[test]
    fn matches_serde() {
        check(Lower, "outcome_x", "outcome_x");
        check(Upper, "outcome_x", "OUTCOME_X");
        check(Pascal, "very_tasty", "VeryTasty");
        check(Camel, "very_tasty", "veryTasty");
        check(Camel, "a", "a");
        check(Snake, "very_tasty", "very_tasty");
        check(ScreamingSnake, "very_tasty", "VERY_TASTY");
        check(Kebab, "very_tasty", "very-tasty");
        check(ScreamingKebab, "very_tasty", "VERY-TASTY");
        assert_eq!(RenameRule::parse("camelCase"), Some(Camel));
        assert_eq!(RenameRule::parse("Camel"), None);
    }
}
