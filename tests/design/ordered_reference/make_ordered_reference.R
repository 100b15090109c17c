# lme4 fits with an ordered factor (R codes it by contr.poly: dose.L, .Q, .C, ^4) for
# tests/design/test_contrasts.py. Run from this folder:
#   Rscript make_ordered_reference.R  (writes ordered_reference.json)
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("ordered.csv")
d$dose <- factor(d$dose, levels = c("none", "low", "mid", "high", "max"), ordered = TRUE)
d$g <- factor(d$g)
models <- list(main = "y ~ dose + x + (1 | g)", interaction = "y ~ dose * x + (1 | g)")
out <- list()
for (id in names(models)) {
  m <- lmer(as.formula(models[[id]]), data = d, REML = TRUE)
  out[[id]] <- list(
    formula = models[[id]], loglik = as.numeric(logLik(m)),
    fixed_names = names(fixef(m)), beta = unname(fixef(m)),
    std_errors = unname(sqrt(diag(as.matrix(vcov(m))))), sigma = sigma(m)
  )
}
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), fits = out),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE), "ordered_reference.json")
