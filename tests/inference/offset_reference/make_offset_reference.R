# lme4's predict.merMod on new data for models with an offset, for
# tests/inference/test_predict.py: the offset in the formula (offset(log(t))) and as lmer's
# offset= argument (an expression of a column, evaluated on newdata by predict); conditional on
# the groups (re.form = NULL, an unseen group gets b = 0, allow.new.levels = TRUE) and at
# population level (re.form = NA). Run from this folder:
#   Rscript make_offset_reference.R  (writes offset_reference.json)
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("offset.csv")
nd <- read.csv("offset_newdata.csv")
fits <- list(
  formula = lmer(y ~ x + offset(log(t)) + (1 | g), data = d),
  argument = lmer(y ~ x + (1 | g), data = d, offset = log(t)),
  both = lmer(y ~ x + offset(2 * x) + (1 | g), data = d, offset = log(t))
)
out <- list()
for (id in names(fits)) {
  m <- fits[[id]]
  out[[id]] <- list(
    formula = deparse(formula(m)), loglik = as.numeric(logLik(m)),
    beta = unname(fixef(m)), sigma = sigma(m),
    fitted = unname(fitted(m))[1:5],
    conditional = unname(predict(m, newdata = nd, allow.new.levels = TRUE)),
    population = unname(predict(m, newdata = nd, re.form = NA))
  )
}
writeLines(toJSON(list(lme4 = as.character(packageVersion("lme4")), fits = out),
                  digits = NA, auto_unbox = TRUE, pretty = TRUE), "offset_reference.json")
