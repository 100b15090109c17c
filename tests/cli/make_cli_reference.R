# Reference numbers for tests/cli/test_icc_lrt_cli.py and the ladder with missing values:
# `multilevel icc`, `multilevel lrt` and `multilevel ladder --json` against lme4.
# Missing values are made by a rule both sides apply (1-based row numbers):
#   hsb  (used while developing): mathach NA if row %% 97 == 0, cses NA if row %% 89 == 0,
#                                 meanses NA if row %% 501 == 0
#   exam (held out, checked only at the end): normexam NA if row %% 53 == 0,
#                                 standLRT NA if row %% 61 == 0
# Run from the repository root:  Rscript tests/cli/make_cli_reference.R
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
ref <- "src/multilevel/datasets/data"
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(xtol_rel = 1e-12, ftol_rel = 1e-12, xtol_abs = 1e-12,
                                   ftol_abs = 1e-14, maxeval = 1e5))
load_case <- function(case) read.csv(file.path(ref, paste0(case, ".csv")))

with_missing <- function(d, rules) {
  i <- seq_len(nrow(d))
  for (col in names(rules)) d[[col]][i %% rules[[col]] == 0] <- NA
  d
}

# ICC of the null model on the rows with outcome and group, profile interval of theta
icc_ref <- function(outcome, group, d, reml = TRUE, level = 0.95) {
  f <- as.formula(sprintf("%s ~ 1 + (1 | %s)", outcome, group))
  d <- d[!is.na(d[[outcome]]) & !is.na(d[[group]]), ]
  m <- lmer(f, d, REML = reml, control = ctrl)
  dev <- lmer(f, d, REML = reml, devFunOnly = TRUE)
  th <- getME(m, "theta")[[1]]
  dmin <- dev(th)
  g <- function(t) dev(t) - dmin - qchisq(level, 1)
  lo <- if (g(0) <= 0) 0 else uniroot(g, c(0, th), tol = 1e-12)$root
  hi <- uniroot(g, c(th, 10 * th + 10), tol = 1e-12)$root
  vc <- as.data.frame(VarCorr(m))
  icc <- vc$vcov[1] / sum(vc$vcov)
  n <- nrow(d); J <- length(unique(d[[group]]))
  deff <- 1 + (n / J - 1) * icc
  list(outcome = outcome, group = group, reml = reml, n_obs = n, n_groups = J, icc = icc,
       ci_lower = lo^2 / (1 + lo^2), ci_upper = hi^2 / (1 + hi^2),
       design_effect = deff, effective_n = n / deff)
}

fit_summary <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  list(formula = paste(deparse(formula(m)), collapse = ""), n_obs = nobs(m),
       loglik = as.numeric(logLik(m)), fixef = as.list(fixef(m)),
       se = as.list(sqrt(diag(as.matrix(vcov(m))))),
       vcov = vc$vcov, var1 = vc$var1, var2 = vc$var2, grp = vc$grp)
}

# the ladder: complete cases over every ladder variable, then the five models
ladder_ref <- function(d, y, g, x, w) {
  used <- c(y, g, x, w)
  keep <- complete.cases(d[, used])
  dd <- d[keep, ]
  fs <- c(
    null = sprintf("%s ~ 1 + (1 | %s)", y, g),
    random_intercept = sprintf("%s ~ %s + (1 | %s)", y, x, g),
    intercepts_as_outcomes = sprintf("%s ~ %s + %s + (1 | %s)", y, x, w, g),
    random_slopes = sprintf("%s ~ %s + %s + (1 + %s | %s)", y, x, w, x, g),
    slopes_as_outcomes = sprintf("%s ~ %s * %s + (1 + %s | %s)", y, x, w, x, g)
  )
  reml <- lapply(fs, function(f) lmer(as.formula(f), dd, REML = TRUE, control = ctrl))
  ml <- lapply(fs, function(f) lmer(as.formula(f), dd, REML = FALSE, control = ctrl))
  tests <- list()
  for (k in 2:length(fs)) {
    a <- anova(ml[[k - 1]], ml[[k]])
    tests[[k - 1]] <- list(reduced = names(fs)[k - 1], full = names(fs)[k], chisq = a$Chisq[2],
                           df = a$Df[2], p_value = a$`Pr(>Chisq)`[2])
  }
  list(n_rows = nrow(d), n_obs = nrow(dd), n_dropped = sum(!keep), formulas = as.list(fs),
       reml = lapply(reml, fit_summary), ml_loglik = lapply(ml, function(m) as.numeric(logLik(m))),
       tests = tests)
}

lrt_ref <- function(f0, f1, d, reml) {
  m0 <- lmer(as.formula(f0), d, REML = reml, control = ctrl)
  m1 <- lmer(as.formula(f1), d, REML = reml, control = ctrl)
  a <- anova(m0, m1)  # refit = TRUE: ML fits compared
  list(formula0 = f0, formula1 = f1, reml = reml, npar = a$npar, loglik = a$logLik,
       chisq = a$Chisq[2], df = a$Df[2], p_value = a$`Pr(>Chisq)`[2])
}

hsb <- with_missing(load_case("hsb"), list(mathach = 97, cses = 89, meanses = 501))
hsb$school <- factor(hsb$school)
exam <- with_missing(load_case("exam"), list(normexam = 53, standLRT = 61))
exam$school <- factor(exam$school)
pastes <- load_case("pastes")

hsb_cc <- hsb[complete.cases(hsb[, c("mathach", "cses", "school")]), ]
out <- list(
  generated_by = "tests/cli/make_cli_reference.R",
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  icc = list(
    hsb_reml = icc_ref("mathach", "school", hsb, TRUE),
    hsb_ml = icc_ref("mathach", "school", hsb, FALSE),
    exam_reml = icc_ref("normexam", "school", exam, TRUE)
  ),
  lrt = list(
    pastes_ml = lrt_ref("strength ~ 1 + (1 | batch:cask)", "strength ~ 1 + (1 | batch/cask)",
                        pastes, FALSE),
    hsb_slope = lrt_ref("mathach ~ cses + (1 | school)", "mathach ~ cses + (1 + cses | school)",
                        hsb_cc, TRUE)
  ),
  ladder = list(
    hsb = ladder_ref(hsb, "mathach", "school", "cses", "meanses"),
    exam = ladder_ref(exam, "normexam", "school", "standLRT", "schavg")
  )
)
write_json(out, "tests/cli/cli_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
