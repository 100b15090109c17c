# lme4 fits with precision weights for tests/design/test_shift.py: a predictor (yyyymmdd dates)
# and an outcome far from zero, weights w = 0.5 + ((row - 1) %% 4) / 2.
# Run from this folder: Rscript make_weighted_reference.R  (writes weighted_reference.json)
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("shift.csv")
d$g <- factor(d$g)
d$w <- 0.5 + ((seq_len(nrow(d)) - 1) %% 4) / 2
models <- list(yyyymmdd = "y ~ d + x + (1 | g)", far_outcome = "y_far ~ x + (1 | g)")
out <- list()
for (id in names(models)) {
  for (reml in c(TRUE, FALSE)) {
    m <- suppressWarnings(lmer(as.formula(models[[id]]), data = d, REML = reml, weights = w,
                               control = lmerControl(optimizer = "bobyqa",
                                                     optCtrl = list(maxfun = 1e5))))
    out[[length(out) + 1]] <- list(
      id = id, formula = models[[id]], reml = reml,
      loglik = as.numeric(logLik(m)),
      beta = unname(fixef(m)), fixed_names = names(fixef(m)),
      std_errors = unname(sqrt(diag(as.matrix(vcov(m))))),
      sigma = sigma(m), theta = unname(getME(m, "theta"))
    )
  }
}
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), fits = out),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE), "weighted_reference.json")
