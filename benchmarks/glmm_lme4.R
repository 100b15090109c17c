# Time lme4::glmer (binomial, Laplace, lme4's defaults) on a CSV; print "RESULT {json}".
# Usage: Rscript benchmarks/glmm_lme4.R DATA.csv "FORMULA"   (column g becomes a factor)
suppressPackageStartupMessages({library(lme4); library(data.table); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- as.data.frame(fread(args[1], showProgress = FALSE))
d$g <- factor(d$g)
t0 <- proc.time()
m <- glmer(as.formula(args[2]), data = d, family = binomial)
dt <- proc.time() - t0
cat("RESULT ", toJSON(list(seconds = dt[["elapsed"]], cpu = dt[["user.self"]] + dt[["sys.self"]],
    loglik = as.numeric(logLik(m)), theta = unname(getME(m, "theta")), beta = unname(fixef(m)),
    se = unname(sqrt(diag(as.matrix(vcov(m))))), converged = length(m@optinfo$conv$lme4) == 0),
    auto_unbox = TRUE, digits = NA), "\n", sep = "")
