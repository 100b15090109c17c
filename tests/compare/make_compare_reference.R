# Extra R references for multilevel.compare, beyond tests/reference/hsb.json:
# CR2 (Bell-McCaffrey) cluster-robust SEs and GEE with independence working correlation,
# for hsb model (c)'s mean model.  Run from the repository root:
#   Rscript tests/compare/make_compare_reference.R
suppressPackageStartupMessages({
  library(sandwich); library(clubSandwich); library(geepack); library(jsonlite)
})
d <- read.csv("src/multilevel/datasets/data/hsb.csv")
d <- d[order(d$school), ]
f <- mathach ~ cses + meanses + catholic
fit <- lm(f, data = d)
coefs <- function(est, se) lapply(seq_along(est), function(i)
  list(name = names(est)[i], estimate = unname(est[i]), std_error = unname(se[i])))
cr2 <- clubSandwich::vcovCR(fit, cluster = d$school, type = "CR2")
hc2 <- sandwich::vcovCL(fit, cluster = ~school, type = "HC2", cadjust = FALSE)
gi <- geepack::geeglm(f, id = school, data = d, family = gaussian, corstr = "independence")
s <- summary(gi)
out <- list(
  software = list(R = R.version.string,
                  sandwich = as.character(packageVersion("sandwich")),
                  clubSandwich = as.character(packageVersion("clubSandwich")),
                  geepack = as.character(packageVersion("geepack"))),
  ols_cluster_cr2 = list(
    r_call = "clubSandwich::vcovCR(fit, cluster = school, type = 'CR2')",
    coefficients = coefs(coef(fit), sqrt(diag(as.matrix(cr2))))),
  ols_cluster_hc2_sandwich = list(
    r_call = "sandwich::vcovCL(fit, cluster = ~school, type = 'HC2', cadjust = FALSE)",
    coefficients = coefs(coef(fit), sqrt(diag(hc2)))),
  gee_independence = list(
    r_call = "geepack::geeglm(f, id = school, family = gaussian, corstr = 'independence')",
    coefficients = coefs(coef(gi), s$coefficients[, "Std.err"]),
    scale = unname(s$dispersion$Estimate))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(15), pretty = TRUE),
           "tests/compare/compare_reference.json")
