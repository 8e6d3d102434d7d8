//! Values the user picks by name — a metric, a linkage, a preprocessing preset — each listed
//! once with the name the command line, the explorer and the caches use and a line on what it
//! does. The library parses and prints them (`FromStr`, `Display`); the command line builds its
//! argument parsers and `--help` from these lists, so clap stays in the CLI.

use thiserror::Error;

/// An enum whose values are picked by name.
pub trait Choice: Copy + PartialEq + Send + Sync + 'static {
    /// Every value, in the order they are offered.
    const ALL: &'static [Self];

    /// The name the user types and reads.
    fn name(self) -> &'static str;

    /// One line on what the value does ("" when the name says it all).
    fn about(self) -> &'static str;

    /// The value named `name` (exactly: names are lower case).
    fn from_name(name: &str) -> Result<Self, UnknownChoice> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| UnknownChoice {
                given: name.to_owned(),
                expected: Self::ALL.iter().map(|v| v.name()).collect(),
            })
    }
}

/// A name that is none of a choice's values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{given}' is not one of: {}", expected.join(", "))]
pub struct UnknownChoice {
    pub given: String,
    pub expected: Vec<&'static str>,
}

/// `Choice`, `Display` and `FromStr` for an enum from one table: each value, its name and
/// what it does.
macro_rules! choice {
    ($ty:ty { $($value:ident => $name:literal, $about:literal;)+ }) => {
        impl $crate::choice::Choice for $ty {
            const ALL: &'static [Self] = &[$(Self::$value),+];

            fn name(self) -> &'static str {
                match self {
                    $(Self::$value => $name,)+
                }
            }

            fn about(self) -> &'static str {
                match self {
                    $(Self::$value => $about,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::choice::Choice::name(*self))
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::choice::UnknownChoice;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                <Self as $crate::choice::Choice>::from_name(name)
            }
        }
    };
}
pub(crate) use choice;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Shade {
        Light,
        Dark,
    }

    choice!(Shade {
        Light => "light", "";
        Dark => "dark", "Less light";
    });

    #[test]
    fn names_round_trip_and_a_wrong_one_lists_the_right_ones() {
        for &v in Shade::ALL {
            assert_eq!(v.to_string().parse::<Shade>(), Ok(v));
        }
        assert_eq!(Shade::Dark.about(), "Less light");
        let err = "Dark".parse::<Shade>().expect_err("names are exact");
        assert_eq!(err.to_string(), "'Dark' is not one of: light, dark");
    }
}
