//! Candle timeframes (`1m`, `5m`, `1h`, `1d`, ...) and their length.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A candle period, as freqtrade and CCXT name it: a count and a unit (m, h, d, w).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timeframe {
    millis: i64,
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

impl Timeframe {
    /// Parses `1m`, `15m`, `1h`, `4h`, `1d`, `1w` (also `1s` for second candles).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidTimeframe(s.to_string());
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (count, unit) = s.split_at(split);
        let count: i64 = count.parse().map_err(|_| bad())?;
        if count <= 0 {
            return Err(bad());
        }
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => WEEK,
            _ => return Err(bad()),
        };
        Ok(Self { millis: count * unit_ms })
    }

    /// The timeframe whose candles are `millis` long, if it has a conventional name.
    pub fn from_millis(millis: i64) -> Option<Self> {
        (millis > 0 && millis % 1_000 == 0).then_some(Self { millis })
    }

    /// Length of one candle in milliseconds.
    pub fn millis(self) -> i64 {
        self.millis
    }

    /// Length of one candle in seconds.
    pub fn seconds(self) -> i64 {
        self.millis / 1_000
    }

    /// Start of the candle that contains `time_ms` (epoch-aligned, as exchanges align candles).
    pub fn floor(self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.millis) * self.millis
    }

    /// Whether `time_ms` is the open time of a candle of this timeframe.
    pub fn is_aligned(self, time_ms: i64) -> bool {
        time_ms.rem_euclid(self.millis) == 0
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.millis;
        let (count, unit) = if m % WEEK == 0 {
            (m / WEEK, "w")
        } else if m % DAY == 0 {
            (m / DAY, "d")
        } else if m % HOUR == 0 {
            (m / HOUR, "h")
        } else if m % MINUTE == 0 {
            (m / MINUTE, "m")
        } else {
            (m / 1_000, "s")
        };
        write!(f, "{count}{unit}")
    }
}

impl FromStr for Timeframe {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Written as its canonical name (`"1h"`), read from any spelling [`Timeframe::parse`] takes (`"60m"`).
impl serde::Serialize for Timeframe {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timeframe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Timeframe::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A TEXT column holding the canonical name.
#[cfg(feature = "sqlx")]
mod sql {
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Encode, Postgres, Type};

    use super::Timeframe;

    impl Type<Postgres> for Timeframe {
        fn type_info() -> PgTypeInfo {
            <String as Type<Postgres>>::type_info()
        }
        fn compatible(ty: &PgTypeInfo) -> bool {
            <String as Type<Postgres>>::compatible(ty)
        }
    }

    impl Encode<'_, Postgres> for Timeframe {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <String as Encode<Postgres>>::encode(self.to_string(), buf)
        }
    }

    impl Decode<'_, Postgres> for Timeframe {
        fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
            Ok(Timeframe::parse(<&str as Decode<Postgres>>::decode(value)?)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_usual_timeframes() {
        for s in ["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "12h", "1d", "3d", "1w"] {
            assert_eq!(Timeframe::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Timeframe::parse("60m").unwrap().to_string(), "1h");
        assert_eq!(Timeframe::parse("1h").unwrap().millis(), 3_600_000);
    }

    #[test]
    fn rejects_what_is_not_a_timeframe() {
        for s in ["", "m", "0m", "-1m", "1y", "1 m", "1.5h", "h1"] {
            assert!(Timeframe::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn serde_writes_the_canonical_name_and_reads_any_spelling() {
        let tf: Timeframe = serde_json::from_str("\"60m\"").unwrap();
        assert_eq!(tf, Timeframe::parse("1h").unwrap());
        assert_eq!(serde_json::to_string(&tf).unwrap(), "\"1h\"");
        let e = serde_json::from_str::<Timeframe>("\"7x\"").unwrap_err().to_string();
        assert!(e.contains("invalid timeframe '7x'"), "{e}");
    }

    #[test]
    fn floors_and_checks_alignment() {
        let tf = Timeframe::parse("5m").unwrap();
        assert_eq!(tf.floor(1_735_689_960_000), 1_735_689_900_000);
        assert!(tf.is_aligned(1_735_689_900_000));
        assert!(!tf.is_aligned(1_735_689_960_000));
    }
}
