# Reference numbers for tests/ladder: ICC profile-likelihood intervals and
# Nakagawa-Schielzeth-Johnson R^2, computed in R with lme4 (performance / MuMIn are not
# installed here, so R^2 is computed by hand from lme4's fit: var(X beta) with R's var(),
# Johnson's mean of diag(Z Sigma Z') from getME(m, "mmList") and VarCorr(m)).
# Run from the repository root:  Rscript tests/ladder/make_r_reference.R
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
ref <- "src/multilevel/datasets/data"  # the same CSVs as shared/reference
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_rel = 1e-12, ftol_rel = 1e-12, xtol_abs = 1e-12,
                                   ftol_abs = 1e-14, maxeval = 1e5))
load_case <- function(case) read.csv(file.path(ref, paste0(case, ".csv")))

# ICC profile interval: theta = tau00^(1/2)/sigma, ICC = theta^2/(1+theta^2); the profiled
# deviance (REML criterion for REML) from lmer(devFunOnly = TRUE) within qchisq(level, 1) of its
# minimum.
icc_profile <- function(formula, data, reml, level = 0.95) {
  m <- lmer(formula, data, REML = reml, control = ctrl)
  dev <- lmer(formula, data, REML = reml, devFunOnly = TRUE)
  th <- getME(m, "theta")[[1]]
  dmin <- dev(th)
  crit <- qchisq(level, 1)
  f <- function(t) dev(t) - dmin - crit
  lo <- if (f(0) <= 0) 0 else uniroot(f, c(0, th), tol = 1e-12)$root
  hi <- uniroot(f, c(th, 10 * th + 10), tol = 1e-12)$root
  vc <- as.data.frame(VarCorr(m))
  list(formula = deparse(formula), reml = reml, level = level, theta = th,
       icc = vc$vcov[1] / sum(vc$vcov),
       lower = lo^2 / (1 + lo^2), upper = hi^2 / (1 + hi^2))
}

r2_by_hand <- function(formula, data) {
  m <- lmer(formula, data, REML = TRUE, control = ctrl)
  vf <- var(as.vector(model.matrix(m) %*% fixef(m)))
  vc <- VarCorr(m)
  mm <- getME(m, "mmList")
  vr <- 0
  for (k in seq_along(mm)) {
    Z <- as.matrix(mm[[k]])
    S <- as.matrix(vc[[k]])
    vr <- vr + mean(rowSums((Z %*% S) * Z))
  }
  ve <- sigma(m)^2
  list(formula = deparse(formula), var_fixed = vf, var_random = vr, var_residual = ve,
       marginal = vf / (vf + vr + ve), conditional = (vf + vr) / (vf + vr + ve))
}

hsb <- load_case("hsb"); sleep <- load_case("sleepstudy"); exam <- load_case("exam")
hsb$school <- factor(hsb$school); sleep$Subject <- factor(sleep$Subject)
exam$school <- factor(exam$school)

# LRTs of a one-level-2-predictor ladder (lme4::anova on ML fits), for the CLI test
lrt_ml <- function(f0, f1, data) {
  m0 <- lmer(f0, data, REML = FALSE, control = ctrl)
  m1 <- lmer(f1, data, REML = FALSE, control = ctrl)
  a <- anova(m0, m1)
  list(reduced = deparse(f0), full = deparse(f1), npar = a$npar, loglik = a$logLik,
       chisq = a$Chisq[2], df = a$Df[2], p_value = a$`Pr(>Chisq)`[2])
}

out <- list(
  generated_by = "tests/ladder/make_r_reference.R",
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  icc_profile = list(
    icc_profile(mathach ~ 1 + (1 | school), hsb, TRUE),
    icc_profile(mathach ~ 1 + (1 | school), hsb, FALSE),
    icc_profile(Reaction ~ Days + (1 | Subject), sleep, TRUE),
    icc_profile(normexam ~ standLRT + (1 | school), exam, TRUE)
  ),
  r2 = list(
    r2_by_hand(mathach ~ 1 + (1 | school), hsb),
    r2_by_hand(mathach ~ cses + (1 | school), hsb),
    r2_by_hand(mathach ~ cses + meanses + catholic + (1 | school), hsb),
    r2_by_hand(mathach ~ cses * meanses + cses * catholic + (1 + cses | school), hsb),
    r2_by_hand(Reaction ~ Days + (Days | Subject), sleep)
  ),
  ladder_meanses = list(
    lrt_ml(mathach ~ 1 + (1 | school), mathach ~ cses + (1 | school), hsb),
    lrt_ml(mathach ~ cses + (1 | school), mathach ~ cses + meanses + (1 | school), hsb),
    lrt_ml(mathach ~ cses + meanses + (1 | school),
           mathach ~ cses + meanses + (1 + cses | school), hsb),
    lrt_ml(mathach ~ cses + meanses + (1 + cses | school),
           mathach ~ cses * meanses + (1 + cses | school), hsb)
  ),
  # the ladder with two level-2 predictors: the random slope alone, then the cross-level
  # interactions (the steps after intercepts-as-outcomes)
  ladder_two_level2 = list(
    lrt_ml(mathach ~ cses + meanses + catholic + (1 | school),
           mathach ~ cses + meanses + catholic + (1 + cses | school), hsb),
    lrt_ml(mathach ~ cses + meanses + catholic + (1 + cses | school),
           mathach ~ cses * (meanses + catholic) + (1 + cses | school), hsb)
  )
)
write_json(out, "tests/ladder/r_reference.json", auto_unbox = TRUE, digits = 15, pretty = TRUE)
