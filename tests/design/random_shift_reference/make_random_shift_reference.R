# lme4 fits for tests/design/test_random_shift.py: a random slope on a predictor moved away from
# zero (x + 10, x + 30: lme4 still finds the optimum; x + 1000: lme4 stops at a worse,
# boundary point), beside the same model on x. Each fit keeps the better of bobyqa and
# Nelder-Mead (at x + 30 bobyqa stops 1e-8 short in loglik). Run from this folder:
#   Rscript make_random_shift_reference.R  (writes random_shift_reference.json)
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("random_shift.csv")
d$g <- factor(d$g); d$h <- factor(d$h)
d$x10 <- d$x + 10; d$x30 <- d$x + 30  # exact: x is on a 2^-10 grid
models <- list(
  slope = "y ~ x + (1 + x | g)",
  slope_10 = "y ~ x10 + (1 + x10 | g)",
  slope_30 = "y ~ x30 + (1 + x30 | g)",
  slope_1000 = "y ~ x_far + (1 + x_far | g)",
  crossed = "y ~ x + (1 + x | g) + (1 | h)",
  crossed_10 = "y ~ x10 + (1 + x10 | g) + (1 | h)"
)
out <- list()
for (id in names(models)) {
  for (reml in c(TRUE, FALSE)) {
    fits <- lapply(c("bobyqa", "Nelder_Mead"), function(opt)
      suppressWarnings(lmer(as.formula(models[[id]]), data = d, REML = reml,
                            control = lmerControl(optimizer = opt, optCtrl = list(maxfun = 1e5)))))
    best <- which.max(sapply(fits, function(m) as.numeric(logLik(m))))
    m <- fits[[best]]
    vc <- VarCorr(m)$g
    out[[length(out) + 1]] <- list(
      id = id, formula = models[[id]], reml = reml,
      optimizer = c("bobyqa", "Nelder_Mead")[best],
      loglik = as.numeric(logLik(m)),
      beta = unname(fixef(m)), sigma = sigma(m),
      theta = unname(getME(m, "theta")),
      tau_g = unname(as.vector(vc)),  # tau00, tau10, tau01, tau11 (column major)
      corr_g = attr(vc, "correlation")[1, 2],
      singular = isSingular(m)
    )
  }
}
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), fits = out),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE), "random_shift_reference.json")
