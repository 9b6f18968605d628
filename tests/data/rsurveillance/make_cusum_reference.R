# Reference outputs of R surveillance's CUSUM (cusum / algo.cusum, defaults k = 1.04, h = 2.26,
# m = NULL → mean of the points before the range) for a handful of the series in this folder.
# Run from anywhere:  Rscript tests/data/rsurveillance/make_cusum_reference.R
# Writes NAME.cusum.csv next to NAME.series.csv: t, trans, upperbound, alarm, cusum — the range is
# (freq + 1):n, i.e. one year of baseline; one block of rows per transformation.
suppressMessages(library(surveillance))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
index <- read.csv(file.path(here, "index.csv"), stringsAsFactors = FALSE)
names <- c("salmonella_agona", "shadar", "ha__chwi", "campyDE", "measlesDE__Berlin",
           "influMen__meningococcus", "rotaBB__00_04", "salmNewport__Hamburg", "salmNewport__Saarland")
transforms <- c("standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin")
for (nm in names) {
  series <- read.csv(file.path(here, paste0(nm, ".series.csv")))
  freq <- index$freq[index$series == nm]
  s <- sts(observed = matrix(series$observed, ncol = 1), frequency = freq)
  n <- nrow(series)
  rng <- (freq + 1):n
  out <- data.frame()
  for (tr in transforms) {
    ctrl <- list(range = rng, k = 1.04, h = 2.26, m = NULL, trans = tr, alpha = NULL)
    r <- cusum(s, control = ctrl)
    raw <- algo.cusum(sts2disProg(s), control = ctrl)  # for the sums themselves
    out <- rbind(out, data.frame(t = rng, trans = tr, upperbound = as.vector(upperbound(r)),
                                 alarm = as.integer(as.vector(alarms(r))), cusum = as.vector(raw$cusum)))
  }
  write.csv(out, file.path(here, paste0(nm, ".cusum.csv")), row.names = FALSE)
}
cat("cusum references written for", length(names), "series\n")
