# Time lme4::lmer on a CSV and print one JSON object: seconds, loglik, theta, beta, sigma.
#
# Usage: Rscript benchmarks/lme4_fit.R DATA.csv "FORMULA" ml|reml [FACTOR_COLUMNS]
#   FACTOR_COLUMNS: comma-separated columns turned into factors (default "g").
# Only the lmer call is timed (not reading the file); lme4's default optimizer and controls.
suppressPackageStartupMessages({
  library(lme4)
  library(data.table)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3) stop("usage: lme4_fit.R DATA.csv FORMULA ml|reml [FACTOR_COLUMNS]")
path <- args[1]
form <- as.formula(args[2])
reml <- switch(args[3], ml = FALSE, reml = TRUE, stop("method must be ml or reml"))
factors <- if (length(args) >= 4) strsplit(args[4], ",")[[1]] else "g"

d <- as.data.frame(fread(path, showProgress = FALSE))
for (f in factors) d[[f]] <- factor(d[[f]])

t0 <- proc.time()
m <- lmer(form, data = d, REML = reml)
dt <- proc.time() - t0
seconds <- dt[["elapsed"]]
cpu <- dt[["user.self"]] + dt[["sys.self"]]

out <- list(
  tool = "lme4",
  version = as.character(packageVersion("lme4")),
  R = R.version.string,
  method = args[3],
  seconds = seconds,
  cpu = cpu,
  loglik = as.numeric(logLik(m)),
  theta = unname(getME(m, "theta")),
  beta = unname(fixef(m)),
  sigma = sigma(m),
  n_obs = nobs(m),
  converged = is.null(m@optinfo$conv$lme4$messages),
  messages = as.list(m@optinfo$conv$lme4$messages)
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE), "\n")
