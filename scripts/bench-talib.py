"""TA-Lib's C implementation (python TA-Lib 0.8.2) over the same ~1M candles as query/benches/indicators.rs.

Prints rows/s per indicator with default parameters, for comparison with `cargo bench` (scripts/bench.sh runs both).
"""
import sys
import time

import numpy as np
import pyarrow.feather as feather
import talib

COPIES = 8
path = sys.argv[1]
t = feather.read_table(path)
col = lambda n: np.tile(t.column(n).to_numpy().astype(np.float64), COPIES)
o, h, l, c, v = col("open"), col("high"), col("low"), col("close"), col("volume")
n = len(c)

calls = {
    "sma": lambda: talib.SMA(c), "ema": lambda: talib.EMA(c), "wma": lambda: talib.WMA(c),
    "dema": lambda: talib.DEMA(c), "tema": lambda: talib.TEMA(c), "trima": lambda: talib.TRIMA(c),
    "kama": lambda: talib.KAMA(c), "rsi": lambda: talib.RSI(c), "cmo": lambda: talib.CMO(c),
    "roc": lambda: talib.ROC(c), "mom": lambda: talib.MOM(c), "stddev": lambda: talib.STDDEV(c),
    "bb_upper": lambda: talib.BBANDS(c, 20, 2, 2)[0], "bb_middle": lambda: talib.BBANDS(c, 20, 2, 2)[1],
    "bb_lower": lambda: talib.BBANDS(c, 20, 2, 2)[2], "macd": lambda: talib.MACD(c)[0],
    "macd_signal": lambda: talib.MACD(c)[1], "macd_hist": lambda: talib.MACD(c)[2],
    "atr": lambda: talib.ATR(h, l, c), "natr": lambda: talib.NATR(h, l, c), "adx": lambda: talib.ADX(h, l, c),
    "plus_di": lambda: talib.PLUS_DI(h, l, c), "minus_di": lambda: talib.MINUS_DI(h, l, c),
    "cci": lambda: talib.CCI(h, l, c), "willr": lambda: talib.WILLR(h, l, c),
    "stoch_k": lambda: talib.STOCH(h, l, c)[0], "stoch_d": lambda: talib.STOCH(h, l, c)[1],
    "mfi": lambda: talib.MFI(h, l, c, v), "obv": lambda: talib.OBV(c, v),
}
print(f"python TA-Lib {talib.__version__}, {n} rows (BTC_USDT-1m x {COPIES}), default parameters")
print(f"{'indicator':<12} {'talib ms':>10} {'talib rows/s':>14}")


def best_of(f, k=3):
    best = float("inf")
    for _ in range(k):
        started = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - started)
    return best


for name, f in calls.items():
    best = best_of(f)
    print(f"{name:<12} {best * 1e3:>10.1f} {n / best:>14.0f}")
