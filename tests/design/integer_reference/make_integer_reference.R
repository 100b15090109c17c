# lme4 reference for formula terms computed on integer columns (issue 11, item 1).
#
#   Rscript tests/design/integer_reference/make_integer_reference.R
#
# integer_terms.csv holds integer columns income (20,000-200,000) and w (1-50,000) whose powers
# and products overflow 32- and 64-bit integers; read.csv reads them as R integers, and R
# computes I(income^4), income:w etc. in double precision. Each model is fitted by ML and REML
# (nloptwrap, tight tolerances, then bobyqa from that optimum; the better one is kept) and
# written to integer_terms.json: loglik, deviance, sigma, theta, fixed effects (name, estimate, SE).

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
here <- normalizePath(dirname(script_file))
d <- read.csv(file.path(here, "integer_terms.csv"), stringsAsFactors = FALSE)
stopifnot(is.integer(d$income), is.integer(d$w))

NL <- list(xtol_rel = 1e-12, ftol_rel = 1e-12, ftol_abs = 1e-12, xtol_abs = 1e-12, maxeval = 1e5)
formulas <- c(
  "y ~ I(income^4) + (1 | g)",
  "y ~ income + I(income^2) + (1 | g)",
  "y ~ income:w + (1 | g)",
  "y ~ income * w + (1 | g)"
)

fit_one <- function(f, reml) {
  a <- lmer(as.formula(f), d, REML = reml,
            control = lmerControl(optimizer = "nloptwrap", optCtrl = NL,
                                  check.scaleX = "ignore"))
  b <- tryCatch(update(a, start = getME(a, "theta"),
                       control = lmerControl(optimizer = "bobyqa",
                                             optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                                             check.scaleX = "ignore")),
                error = function(e) a)
  m <- if (as.numeric(logLik(b)) > as.numeric(logLik(a))) b else a
  cf <- summary(m)$coefficients
  list(
    loglik = as.numeric(logLik(m)),
    deviance = if (reml) as.numeric(REMLcrit(m)) else as.numeric(deviance(m)),
    sigma = sigma(m),
    theta = unname(getME(m, "theta")),
    fixed_effects = lapply(seq_len(nrow(cf)), function(i)
      list(name = rownames(cf)[i], estimate = cf[i, 1], se = cf[i, 2]))
  )
}

out <- list(
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  data_file = "integer_terms.csv",
  models = lapply(formulas, function(f)
    list(formula = f, fits = list(reml = fit_one(f, TRUE), ml = fit_one(f, FALSE))))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(here, "integer_terms.json"))
