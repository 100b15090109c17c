# lme4 fits for tests/design/test_shift.py: predictors and an outcome far from zero.
# Run from this folder: Rscript make_shift_reference.R  (writes shift_reference.json)
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("shift.csv")
d$g <- factor(d$g)
models <- list(
  epoch = "y ~ t + x + (1 | g)",
  yyyymmdd = "y ~ d + x + (1 | g)",
  far_outcome = "y_far ~ x + (1 + x | g)"
)
out <- list()
for (id in names(models)) {
  for (reml in c(TRUE, FALSE)) {
    m <- suppressWarnings(lmer(as.formula(models[[id]]), data = d, REML = reml,
                               control = lmerControl(optimizer = "bobyqa",
                                                     optCtrl = list(maxfun = 1e5))))
    vc <- as.data.frame(VarCorr(m))
    out[[length(out) + 1]] <- list(
      id = id, formula = models[[id]], reml = reml,
      loglik = as.numeric(logLik(m)),
      beta = unname(fixef(m)), fixed_names = names(fixef(m)),
      std_errors = unname(sqrt(diag(as.matrix(vcov(m))))),
      sigma = sigma(m), theta = unname(getME(m, "theta")),
      vcov = vc$vcov
    )
  }
}
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), fits = out),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE), "shift_reference.json")
