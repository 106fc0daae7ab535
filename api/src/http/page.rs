//! Paging shared by every list route: the page shape `{"items": [...], "nextCursor": ...}`, page
//! sizes, and the keyset cursors the listings use.

use serde::Serialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// A page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `items` fetched with `limit + 1` rows: a row beyond `limit` means there is a
    /// next page, whose cursor is `cursor` of the page's last item.
    pub fn from_overfetch(mut items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(cursor)
        } else {
            None
        };
        Page { items, next_cursor }
    }

    /// Every item on one page.
    pub fn all(items: Vec<T>) -> Self {
        Page { items, next_cursor: None }
    }
}

/// A page size: `default` when not given, else 1 to `max` (400 otherwise).
pub fn limit(given: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    let l = given.unwrap_or(default);
    if (1..=max).contains(&l) { Ok(l) } else { Err(ApiError::BadRequest(format!("limit must be 1 to {max}"))) }
}

/// A `<time µs>_<id>` keyset cursor (newest-first listings), read back by [`parse_time_id`].
pub fn time_id(t: chrono::DateTime<chrono::Utc>, id: Uuid) -> String {
    format!("{}_{}", t.timestamp_micros(), id)
}

fn bad(c: &str) -> ApiError {
    ApiError::BadRequest(format!("invalid cursor '{c}'"))
}

/// The (time, id) of a [`time_id`] cursor.
pub fn parse_time_id(c: &str) -> ApiResult<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let (t, id) = c.split_once('_').ok_or_else(|| bad(c))?;
    let t = chrono::DateTime::from_timestamp_micros(t.parse().map_err(|_| bad(c))?).ok_or_else(|| bad(c))?;
    Ok((t, Uuid::parse_str(id).map_err(|_| bad(c))?))
}

/// A `<flag>_<time µs>_<id>` cursor (unread-first listings: the flag is 1 for unread).
pub fn flag_time_id(flag: bool, t: chrono::DateTime<chrono::Utc>, id: Uuid) -> String {
    format!("{}_{}", u8::from(flag), time_id(t, id))
}

/// The (flag, time, id) of a [`flag_time_id`] cursor.
pub fn parse_flag_time_id(c: &str) -> ApiResult<(bool, chrono::DateTime<chrono::Utc>, Uuid)> {
    let (flag, rest) = c.split_once('_').ok_or_else(|| bad(c))?;
    let flag = match flag {
        "1" => true,
        "0" => false,
        _ => return Err(bad(c)),
    };
    let (t, id) = parse_time_id(rest).map_err(|_| bad(c))?;
    Ok((flag, t, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_they_wrote() {
        let t = chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(parse_time_id(&time_id(t, id)).unwrap(), (t, id));
        assert_eq!(parse_flag_time_id(&flag_time_id(true, t, id)).unwrap(), (true, t, id));
        for bad in ["", "x", "1_2", "2_1_x", &format!("7_{}", time_id(t, id))] {
            assert!(parse_flag_time_id(bad).is_err(), "{bad}");
        }
        assert!(limit(Some(0), 20, 100).is_err() && limit(Some(101), 20, 100).is_err());
        assert_eq!(limit(None, 20, 100).unwrap(), 20);
    }
}
