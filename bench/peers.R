# The R side of bench/peers.py: KernSmooth::locpoly and stats::ksmooth on the
# data peers.py generated, timed inside R (the computation only: reading the
# data is not timed).  Not meant to be run by hand.
#
#   Rscript bench/peers.R METHOD DATA.bin N M H LO HI REPEAT BUDGET OUT.bin
#     METHOD   locpoly0 | locpoly1 | ksmooth
#     DATA.bin N keys x, N values y, then M queries q: little-endian float64
#     H        the Gaussian kernel's standard deviation (nwreg's bandwidth)
#     LO, HI   the query grid: q = seq(LO, HI, length.out = M)
#     REPEAT   timed runs wanted; runs stop early once their total passes
#     BUDGET   seconds (at least one run)
#   Writes the last run's M predictions to OUT.bin (float64) and prints
#     times T1 T2 ...      elapsed seconds of each run
#     base_kb K            VmHWM (peak RSS) before the first run, in kB
#     grid_diff D          max |grid - q| (locpoly's own grid against peers.py's)
#
# Conventions, so that every peer computes the same estimator as nwreg:
#   locpoly: kernel "normal" with sd = bandwidth, the same grid as the queries
#     (gridsize = M, range.x = c(LO, HI)); degree 0 is Nadaraya-Watson, degree
#     1 local linear.  It bins the data linearly onto that grid and cuts the
#     kernel at tau = 4 sd: its error against the exact estimator is that of
#     binning and the cut.
#   ksmooth: kernel "normal" puts the quartiles at +-0.25 * bandwidth, i.e.
#     sd = 0.3706506 * bandwidth, so bandwidth = H / 0.3706506.  It also cuts
#     the kernel at 4 sd (ksmooth's C code: cutoff = 4 * bw).
#
#   Rscript bench/peers.R plot RESULTS.csv OUT.png
#     The fallback plot when matplotlib is missing: time against n, log-log.

args <- commandArgs(trailingOnly = TRUE)

vmhwm_kb <- function() {
  s <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
  as.numeric(sub("^VmHWM:[[:space:]]*([0-9]+) kB.*$", "\\1", s))
}

plot_results <- function(csv, png_out) {
  r <- read.csv(csv, stringsAsFactors = FALSE)
  r <- r[!is.na(r$time_s) & r$time_s > 0, ]
  r$label <- paste(r$peer, r$estimator, r$precision)
  labs <- unique(r$label)
  cols <- rainbow(length(labs))
  fams <- unique(r$family)
  png(png_out, width = 600 * max(1, length(fams)), height = 540)
  op <- par(mfrow = c(1, max(1, length(fams))), mar = c(4.5, 4.5, 3, 1))
  for (fam in fams) {
    s <- r[r$family == fam, ]
    plot(s$n, s$time_s, log = "xy", type = "n", xlab = "n (training points)",
         ylab = "time per run, s (median; nwreg: whole process)",
         main = paste(fam, "Gaussian kernel", sep = ", "))
    for (i in seq_along(labs)) {
      t <- s[s$label == labs[i], ]
      if (nrow(t) == 0) next
      t <- t[order(t$n), ]
      lines(t$n, t$time_s, type = "b", col = cols[i], pch = 19)
    }
    shown <- labs %in% s$label
    legend("topleft", legend = labs[shown], col = cols[shown], pch = 19, lty = 1, cex = 0.8)
  }
  par(op)
  invisible(dev.off())
}

if (length(args) >= 1 && args[1] == "plot") {
  plot_results(args[2], args[3])
  quit(status = 0)
}

if (length(args) != 10) stop("usage: Rscript bench/peers.R METHOD DATA.bin N M H LO HI REPEAT BUDGET OUT.bin")
method <- args[1]
n <- as.integer(args[3]); m <- as.integer(args[4])
h <- as.numeric(args[5]); lo <- as.numeric(args[6]); hi <- as.numeric(args[7])
repeats <- as.integer(args[8]); budget <- as.numeric(args[9]); out <- args[10]

con <- file(args[2], "rb")
x <- readBin(con, "double", n, size = 8, endian = "little")
y <- readBin(con, "double", n, size = 8, endian = "little")
q <- readBin(con, "double", m, size = 8, endian = "little")
close(con)
stopifnot(length(x) == n, length(y) == n, length(q) == m)

grid_diff <- 0
if (method %in% c("locpoly0", "locpoly1")) {
  suppressPackageStartupMessages(library(KernSmooth))
  degree <- if (method == "locpoly0") 0L else 1L
  run <- function() {
    fit <- locpoly(x, y, degree = degree, kernel = "normal", bandwidth = h,
                   gridsize = m, range.x = c(lo, hi))
    grid_diff <<- max(abs(fit$x - q))
    fit$y
  }
} else if (method == "ksmooth") {
  run <- function() {
    fit <- ksmooth(x, y, kernel = "normal", bandwidth = h / 0.3706506, x.points = q)
    grid_diff <<- max(abs(fit$x - q))
    fit$y
  }
} else {
  stop(paste("unknown method", method))
}

base_kb <- vmhwm_kb()
times <- numeric(0)
repeat {
  t0 <- proc.time()[["elapsed"]]
  yhat <- run()
  times <- c(times, proc.time()[["elapsed"]] - t0)
  if (length(times) >= repeats || sum(times) > budget) break
}
con <- file(out, "wb")
writeBin(as.double(yhat), con, size = 8, endian = "little")
close(con)
cat("times", sprintf("%.6f", times), "\n")
cat("base_kb", base_kb, "\n")
cat("grid_diff", sprintf("%.3g", grid_diff), "\n")
