//! The batch loops behind [`Indicator::update_batch`](super::Indicator::update_batch): every bar
//! of whole columns through one indicator, its `update` inlined ([`run_portable`]), or, once the
//! state machine is warm, a steady-state loop over the input slices ([`warm_then_tail`], [`Fill`]).
//!
//! The indicators fuse their multiply-adds as TA-Lib 0.8 does (`f64::mul_add`). Without the
//! `fma` target feature that is a call into libm per multiply-add, which measured 1.5–2 ns per
//! bar (EMA ran at 330 M bars/s against TA-Lib's 550 M, ATR at 330 M against 900 M). So the loops
//! whose hot path is a chain of them are compiled a second time with the feature enabled and
//! picked at run time on x86-64 CPUs that have it: [`run_fused`] (MACD, ATR, NATR) and
//! [`fill_fused`] (EMA, DEMA, TEMA, KAMA, WILLR, ROC; with AVX2 too, for the loops the compiler
//! vectorises). The results are the same bits (a fused multiply-add is exactly rounded either
//! way). The others stay portable (for STDDEV the FMA build measured slower).
#![allow(unsafe_code)]

use super::Indicator;

/// [`run_portable`], with the FMA instructions when the CPU has them.
pub(crate) fn run_fused<I: Indicator + ?Sized>(ind: &mut I, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: `run_fma` only needs the FMA instructions, which this CPU has (checked above).
        unsafe { run_fma(ind, columns, values, valid) };
        return;
    }
    run_portable(ind, columns, values, valid);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn run_fma<I: Indicator + ?Sized>(ind: &mut I, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
    run_portable(ind, columns, values, valid);
}

/// Runs `ind` over `columns` (one slice per input, equal lengths, no NaN), appending outputs.
/// One loop per input count, so each bar's inputs are a fixed-size array (no per-bar bounds
/// checks). Plain loops, no closures: a closure would be compiled apart from [`run_fused`]'s
/// target features.
#[inline(always)]
pub(crate) fn run_portable<I: Indicator + ?Sized>(ind: &mut I, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
    let n = columns.iter().map(|c| c.len()).min().unwrap_or(0);
    // written by index into pre-sized tails: no length update per bar
    let start = values.len();
    values.resize(start + n, 0.0);
    valid.resize(start + n, false);
    let (vals, oks) = (&mut values[start..], &mut valid[start..]);
    macro_rules! emit {
        ($i:expr, $out:expr) => {{
            let out = $out;
            vals[$i] = out.unwrap_or(0.0);
            oks[$i] = out.is_some();
        }};
    }
    match *columns {
        [a] => {
            for (i, &x) in a[..n].iter().enumerate() {
                emit!(i, ind.update(&[x]));
            }
        }
        [a, b] => {
            let (a, b) = (&a[..n], &b[..n]);
            for i in 0..n {
                emit!(i, ind.update(&[a[i], b[i]]));
            }
        }
        [a, b, c] => {
            let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
            for i in 0..n {
                emit!(i, ind.update(&[a[i], b[i], c[i]]));
            }
        }
        [a, b, c, d] => {
            let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
            for i in 0..n {
                emit!(i, ind.update(&[a[i], b[i], c[i], d[i]]));
            }
        }
        _ => {
            let mut row = vec![0.0; columns.len()];
            for i in 0..n {
                for (slot, c) in row.iter_mut().zip(columns) {
                    *slot = c[i];
                }
                emit!(i, ind.update(&row));
            }
        }
    }
}

/// The prologue of the batch paths that leave the state machine for a tighter loop once it is
/// warm (most indicators; see their `update_batch`): bars go through `update` one at a time
/// until `ready(ind, at)` holds for the next bar `at` of the batch (the state is past its warm-up
/// and, for the slice-reading loops, the bar's whole window lies in the batch). Returns that bar
/// and a pre-sized tail of `values` for the bars from it on, marked valid, for the caller to
/// fill; `None` when no bar was ready.
pub(crate) fn warm_then_tail<'a, I: Indicator + ?Sized>(
    ind: &mut I,
    columns: &[&[f64]],
    ready: impl Fn(&I, usize) -> bool,
    values: &'a mut Vec<f64>,
    valid: &mut Vec<bool>,
) -> Option<(usize, &'a mut [f64])> {
    let n = columns.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut row = vec![0.0; columns.len()];
    let mut at = 0;
    while at < n && !ready(ind, at) {
        for (slot, c) in row.iter_mut().zip(columns) {
            *slot = c[at];
        }
        let out = ind.update(&row);
        values.push(out.unwrap_or(0.0));
        valid.push(out.is_some());
        at += 1;
    }
    if at == n {
        return None;
    }
    let start = values.len();
    values.resize(start + (n - at), 0.0);
    valid.resize(start + (n - at), true);
    Some((at, &mut values[start..]))
}

/// A batch path's steady-state loop: bars `from..` of `columns` (every earlier bar already fed),
/// each output written to `out` (one per bar from `from` on), the state machine left as `update`
/// would leave it. Implementations mark it `#[inline(always)]` so that [`fill_fused`] compiles it
/// with the FMA instructions.
pub(crate) trait Fill {
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]);
}

/// [`Fill::fill`], compiled with FMA and AVX2 when the CPU has them (the multiply-adds become
/// single instructions, and loops the compiler vectorises use four lanes); same bits either way.
pub(crate) fn fill_fused<F: Fill + ?Sized>(f: &mut F, columns: &[&[f64]], from: usize, out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `fill_fma` only needs the FMA and AVX2 instructions, which this CPU has (checked above).
        unsafe { fill_fma(f, columns, from, out) };
        return;
    }
    f.fill(columns, from, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma,avx2")]
unsafe fn fill_fma<F: Fill + ?Sized>(f: &mut F, columns: &[&[f64]], from: usize, out: &mut [f64]) {
    f.fill(columns, from, out);
}
