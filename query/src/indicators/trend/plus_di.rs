//! PLUS_DI: plus directional indicator (TA-Lib `TA_PLUS_DI`).

use super::di::Di;

/// Plus directional indicator, TA-Lib `TA_PLUS_DI`: `100 * smoothed(+DM) / smoothed(TR)`
/// (Wilder smoothing), lookback `period`. Period 1 gives TA-Lib's raw `+DM1 / TR1` (not × 100).
/// Inputs: high, low, close. `PlusDi::new(period)`, `period` ≥ 1; the state machine is -DI's with
/// the sides swapped.
pub type PlusDi = Di<true>;
