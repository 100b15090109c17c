# Extra nlme references for multilevel's residual structures (varPower, AR1 + varIdent together,
# gaps in time, CAR1 on real times). Run from this folder:
#   Rscript make_nlme_extra.R
# Reads ../nlme_reference/{sleepstudy,orthodont}.csv, writes nlme_extra.json and sleep_gaps.csv.
suppressPackageStartupMessages({library(nlme); library(jsonlite)})
ctrl <- lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, niterEM = 100, msTol = 1e-12)
sleep <- read.csv("../nlme_reference/sleepstudy.csv", stringsAsFactors = FALSE)
sleep$Subject <- factor(sleep$Subject)
orth <- read.csv("../nlme_reference/orthodont.csv", stringsAsFactors = FALSE)
orth$Subject <- factor(orth$Subject); orth$Sex <- factor(orth$Sex)
# gaps: drop every row with (subject number + Days) divisible by 4, and shuffle the rows
gaps <- sleep[(as.integer(sleep$Subject) + sleep$Days) %% 4 != 0, ]
set.seed(1); gaps <- gaps[sample(nrow(gaps)), ]
gaps$t <- round(gaps$Days + runif(nrow(gaps), 0, 0.4), 3)   # real-valued times
write.csv(gaps, "sleep_gaps.csv", row.names = FALSE)
gaps <- read.csv("sleep_gaps.csv", stringsAsFactors = FALSE); gaps$Subject <- factor(gaps$Subject)

models <- list(
  list(id = "sleep_varpower_fitted", data = "sleepstudy", df = sleep, fixed = Reaction ~ Days,
       random = ~1 | Subject, correlation = NULL, weights = quote(varPower())),
  list(id = "orth_varpower_age", data = "orthodont", df = orth, fixed = distance ~ age * Sex,
       random = ~1 | Subject, correlation = NULL, weights = quote(varPower(form = ~age))),
  list(id = "orth_ar1_varident", data = "orthodont", df = orth, fixed = distance ~ age * Sex,
       random = ~1 | Subject, correlation = quote(corAR1(form = ~occasion | Subject)),
       weights = quote(varIdent(form = ~1 | Sex))),
  list(id = "gaps_ar1", data = "sleep_gaps", df = gaps, fixed = Reaction ~ Days,
       random = ~1 | Subject, correlation = quote(corAR1(form = ~Days | Subject)), weights = NULL),
  list(id = "gaps_car1_t", data = "sleep_gaps", df = gaps, fixed = Reaction ~ Days,
       random = ~1 | Subject, correlation = quote(corCAR1(form = ~t | Subject)),
       weights = NULL)
)
out <- list()
for (m in models) {
  fits <- list()
  for (method in c("REML", "ML")) {
    args <- list(fixed = m$fixed, random = m$random, data = m$df, method = method, control = ctrl)
    if (!is.null(m$correlation)) args$correlation <- eval(m$correlation)
    if (!is.null(m$weights)) args$weights <- eval(m$weights)
    f <- do.call(lme, args)
    tt <- summary(f)$tTable
    vc <- getVarCov(f)
    fits[[tolower(method)]] <- list(
      loglik = as.numeric(logLik(f)), n_params = attr(logLik(f), "df"),
      fixed_effects = unname(tt[, "Value"]), std_errors = unname(tt[, "Std.Error"]),
      fixed_names = rownames(tt), sigma = f$sigma, re_variances = unname(diag(vc)),
      correlation = if (is.null(f$modelStruct$corStruct)) NULL else
        as.list(coef(f$modelStruct$corStruct, unconstrained = FALSE)),
      variance = if (is.null(f$modelStruct$varStruct)) NULL else
        as.list(coef(f$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)))
  }
  out[[length(out) + 1]] <- list(
    model_id = m$id, data = m$data, fixed = deparse(m$fixed), random = deparse(m$random),
    correlation = if (is.null(m$correlation)) NULL else deparse(m$correlation),
    weights = if (is.null(m$weights)) NULL else deparse(m$weights), fits = fits)
}
meta <- list(generated_by = "make_nlme_extra.R", r_version = R.version.string,
             nlme = as.character(packageVersion("nlme")), models = out)
writeLines(toJSON(meta, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "nlme_extra.json")
