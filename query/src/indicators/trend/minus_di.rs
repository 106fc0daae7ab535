//! MINUS_DI: minus directional indicator (TA-Lib `TA_MINUS_DI`).

use super::di::Di;

/// Minus directional indicator, TA-Lib `TA_MINUS_DI`: `100 * smoothed(-DM) / smoothed(TR)`
/// (Wilder smoothing), lookback `period`. Period 1 gives TA-Lib's raw `-DM1 / TR1` (not × 100).
/// Inputs: high, low, close. `MinusDi::new(period)`, `period` ≥ 1; the state machine is +DI's with
/// the sides swapped.
pub type MinusDi = Di<false>;
