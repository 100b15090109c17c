# Extra lme4 reference cases for the `multilevel` package, beyond tests/reference.
#
#   Rscript tests/extra_reference/make_extra_reference.R
#
# Writes tests/extra_reference/<case>.json and the simulated data under
# tests/extra_reference/data/. Every model is fitted to the CSV *as read back*, with
# lme4 + lmerTest, REML and ML, by nloptwrap (NLopt BOBYQA) with tight tolerances and
# cross-checked with minqa::bobyqa (rhoend 1e-12); the better optimum is kept and then polished
# by bobyqa restarts from it until the criterion stops improving (optimizer.name says which).
# The JSON fields follow tests/reference/README.md ("Fit object"), plus per model:
#   data_file        "package:<name>" (multilevel.datasets.load) or "data/<file>.csv"
#   python_formula   formula for multilevel.fit when it differs from the R one (C(k) vs factor(k))
#   name_map         {R name: expected multilevel name} where the spelling legitimately differs
#   categorical      {column: [levels in order]} columns to pass as pandas Categorical
#   ranef            conditional modes of the REML fit (group, term, level, condval, condsd), or null
# and per fit, beside the README fields: n_obs, n_groups, dropped_fixed (aliased columns lme4
# dropped, attr(X, "col.dropped")), icc (null unless the fixed part is the intercept alone and all
# random terms are intercepts), optimizer.crosscheck_* (the other optimizer against the kept one).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
out_dir <- normalizePath(dirname(script_file))
repo_dir <- normalizePath(file.path(out_dir, "..", ".."))
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE)
pkg_data <- file.path(repo_dir, "src", "multilevel", "datasets", "data")

NL_SETTINGS <- list(xtol_rel = 1e-12, ftol_rel = 1e-12, ftol_abs = 1e-12, xtol_abs = 1e-12,
                    maxeval = 1e5)
ctrl_nl <- lmerControl(optimizer = "nloptwrap", optCtrl = NL_SETTINGS)
ctrl_bq <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

software <- list(
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  Matrix = as.character(packageVersion("Matrix")),
  nloptr = as.character(packageVersion("nloptr")),
  minqa = as.character(packageVersion("minqa")),
  jsonlite = as.character(packageVersion("jsonlite"))
)

# ---------------------------------------------------------------- data helpers
write_back <- function(d, file) {
  # 15 significant digits, NA as empty field; return the data as read back.
  path <- file.path(data_dir, file)
  num <- vapply(d, is.numeric, TRUE)
  d[num] <- lapply(d[num], function(x) signif(x, 15))
  write.csv(d, path, row.names = FALSE, na = "")
  read.csv(path, na.strings = "", stringsAsFactors = FALSE)
}

read_pkg <- function(name) read.csv(file.path(pkg_data, paste0(name, ".csv")),
                                    stringsAsFactors = FALSE)

# ---------------------------------------------------------------- fitting
fit_capture <- function(formula, data, reml, control, start = NULL) {
  warns <- character(0)
  msgs <- character(0)
  m <- withCallingHandlers(
    lmerTest::lmer(as.formula(formula), data = data, REML = reml, control = control,
                   na.action = na.omit, start = start),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(mm) { msgs <<- c(msgs, trimws(conditionMessage(mm))); invokeRestart("muffleMessage") }
  )
  list(model = m, warnings = unique(warns), messages = unique(msgs))
}

crit <- function(m) -2 * as.numeric(logLik(m))

varcomps <- function(m) {
  vc <- VarCorr(m)
  unlist(lapply(vc, function(s) diag(s)))
}

as_rows <- function(M) lapply(seq_len(nrow(M)), function(i) as.list(unname(M[i, ])))

num_or_null <- function(x) if (length(x) == 0 || !is.finite(x)) NULL else x

fit_object <- function(formula, data, reml) {
  nl <- fit_capture(formula, data, reml, ctrl_nl)
  bq <- fit_capture(formula, data, reml, ctrl_bq)
  primary <- nl
  primary_name <- "nloptwrap (NLOPT_LN_BOBYQA)"
  other_name <- "bobyqa (minqa), rhoend = 1e-12"
  if (crit(bq$model) < crit(nl$model) - 1e-10) {
    primary <- bq
    tmp <- primary_name; primary_name <- other_name; other_name <- tmp
    other <- nl
  } else {
    other <- bq
  }
  # Polish: restart bobyqa from the best optimum until the criterion stops improving, so that
  # flat optima (slope variances) are pinned down better than either single run.
  polished <- 0L
  for (k in 1:5) {
    pl <- fit_capture(formula, data, reml, ctrl_bq, start = list(theta = getME(primary$model, "theta")))
    if (crit(pl$model) < crit(primary$model) - 1e-12) {
      primary <- list(model = pl$model, warnings = primary$warnings, messages = primary$messages)
      polished <- polished + 1L
    } else break
  }
  if (polished > 0) primary_name <- paste0(primary_name, " + ", polished, " bobyqa restart(s) from its optimum")
  m <- primary$model
  # Conditional modes before anything else evaluates the deviance (lmerTest's numerical
  # derivatives move the model's internal state away from the optimum).
  re_rows <- if (reml) ranef_rows(m) else NULL

  sat_warn <- character(0)
  co <- withCallingHandlers(
    tryCatch(summary(m, ddf = "Satterthwaite")$coefficients, error = function(e) {
      sat_warn <<- c(sat_warn, conditionMessage(e)); NULL }),
    warning = function(w) { sat_warn <<- c(sat_warn, conditionMessage(w)); invokeRestart("muffleWarning") })
  beta <- fixef(m)
  V <- as.matrix(vcov(m))
  se <- sqrt(diag(V))
  fixed <- lapply(seq_along(beta), function(i) {
    nm <- names(beta)[i]
    list(
      name = nm,
      estimate = unname(beta[i]),
      std_error = unname(se[i]),
      t_value = unname(beta[i] / se[i]),
      df_satterthwaite = if (is.null(co) || !("df" %in% colnames(co))) NULL else num_or_null(co[nm, "df"]),
      p_value_satterthwaite = if (is.null(co) || !("Pr(>|t|)" %in% colnames(co))) NULL else num_or_null(co[nm, "Pr(>|t|)"])
    )
  })

  vc <- VarCorr(m)
  cnms <- getME(m, "cnms")
  random <- lapply(seq_along(vc), function(i) {
    S <- as.matrix(vc[[i]])
    sds <- sqrt(diag(S))
    C <- attr(vc[[i]], "correlation")
    if (is.null(C)) C <- matrix(1, 1, 1)
    C[!is.finite(C)] <- 0
    list(
      group = names(vc)[i],
      grouping_factor = names(cnms)[i],
      terms = as.list(colnames(S)),
      variances = as.list(unname(diag(S))),
      std_devs = as.list(unname(sds)),
      covariance_matrix = as_rows(unname(S)),
      correlation_matrix = as_rows(unname(as.matrix(C)))
    )
  })
  vdf <- as.data.frame(vc, order = "lower.tri")
  varcorr_table <- lapply(seq_len(nrow(vdf)), function(i) list(
    group = vdf$grp[i], var1 = if (is.na(vdf$var1[i])) NULL else vdf$var1[i],
    var2 = if (is.na(vdf$var2[i])) NULL else vdf$var2[i], vcov = vdf$vcov[i], sdcor = vdf$sdcor[i]))

  ll <- logLik(m)
  npar <- attr(ll, "df")
  n <- nobs(m)
  ll <- as.numeric(ll)
  th <- getME(m, "theta")
  dropped <- attr(getME(m, "X"), "col.dropped")
  conv <- m@optinfo$conv$lme4$messages
  theta_diff <- max(abs(getME(other$model, "theta") - th))
  vc_diff <- max(abs(varcomps(other$model) - varcomps(m)) / pmax(abs(varcomps(m)), 1e-8))
  obj <- list(
    method = if (reml) "REML" else "ML",
    reml = reml,
    n_obs = n,
    n_groups = as.list(ngrps(m)),
    fixed_effects = fixed,
    vcov_fixed = as_rows(unname(V)),
    random_effects = random,
    varcorr_table = varcorr_table,
    sigma = sigma(m),
    residual_variance = sigma(m)^2,
    loglik = ll,
    n_params = npar,
    deviance = if (reml) NULL else -2 * ll,
    reml_criterion = if (reml) -2 * ll else NULL,
    aic = -2 * ll + 2 * npar,
    bic = -2 * ll + log(n) * npar,
    theta = as.list(unname(th)),
    theta_names = as.list(names(th)),
    beta = as.list(unname(beta)),
    is_singular = isSingular(m),
    icc = if (identical(colnames(getME(m, "X")), "(Intercept)") &&
              all(vapply(cnms, function(cn) identical(cn, "(Intercept)"), TRUE))) {
      tau <- vapply(vc, function(s) s[1, 1], 0)
      as.list(tau / (sum(tau) + sigma(m)^2))
    } else NULL,
    dropped_fixed = as.list(if (is.null(dropped)) character(0) else names(dropped)),
    optimizer = list(
      name = primary_name,
      settings = if (startsWith(primary_name, "nloptwrap")) NL_SETTINGS else list(rhoend = 1e-12, maxfun = 1e5),
      n_evaluations = m@optinfo$feval,
      convergence_code = m@optinfo$conv$opt,
      lme4_convergence_messages = as.list(if (is.null(conv)) character(0) else conv),
      fit_warnings = as.list(primary$warnings),
      fit_messages = as.list(primary$messages),
      satterthwaite_warnings = as.list(sat_warn),
      crosscheck_optimizer = other_name,
      crosscheck_objective_minus_primary = crit(other$model) - crit(m),
      crosscheck_max_abs_theta_diff = theta_diff,
      crosscheck_max_rel_varcomp_diff = vc_diff
    )
  )
  attr(obj, "ranef") <- re_rows
  obj
}

ranef_rows <- function(m) {
  r <- as.data.frame(ranef(m, condVar = TRUE))
  lapply(seq_len(nrow(r)), function(i) list(
    group = as.character(r$grpvar[i]), term = as.character(r$term[i]),
    level = as.character(r$grp[i]), condval = r$condval[i], condsd = r$condsd[i]))
}

model_entry <- function(model_id, label, formula, data, data_file, python_formula = NULL,
                        name_map = NULL, categorical = NULL, with_ranef = FALSE,
                        methods = c(TRUE, FALSE)) {
  cat("  ", model_id, ":", formula, "\n")
  fits <- list()
  for (reml in methods) fits[[if (reml) "reml" else "ml"]] <- fit_object(formula, data, reml)
  ranef <- if (with_ranef) attr(fits$reml, "ranef") else NULL
  for (k in names(fits)) attr(fits[[k]], "ranef") <- NULL
  list(
    model_id = model_id,
    label = label,
    formula = formula,
    python_formula = if (is.null(python_formula)) formula else python_formula,
    data_file = data_file,
    name_map = if (is.null(name_map)) structure(list(), names = character(0)) else name_map,
    categorical = if (is.null(categorical)) structure(list(), names = character(0)) else categorical,
    ranef = ranef,
    fits = fits
  )
}

write_case <- function(case_id, description, models, rng = NULL) {
  obj <- list(
    schema_version = "1.0",
    case_id = case_id,
    description = description,
    generated_by = "tests/extra_reference/make_extra_reference.R",
    software = software,
    rng = rng,
    models = models
  )
  path <- file.path(out_dir, paste0(case_id, ".json"))
  writeLines(toJSON(obj, auto_unbox = TRUE, digits = I(15), null = "null", na = "null",
                    pretty = TRUE), path)
  cat("wrote", path, "\n")
}

RNG <- function(seed) list(seed = seed, kind = RNGkind())

# ================================================================ 1. sleepstudy with a factor
cat("case sleep_factor\n")
sl <- read_pkg("sleepstudy")
sl$dbin <- ifelse(sl$Days <= 2, "low", ifelse(sl$Days <= 6, "mid", "high"))
sl <- write_back(sl, "sleep_factor.csv")
write_case("sleep_factor",
  "sleepstudy with Days binned into a string factor dbin (low 0-2, mid 3-6, high 7-9); R orders levels alphabetically (high, low, mid)",
  list(
    model_entry("sleep_dbin", "string factor, treatment contrasts", "Reaction ~ dbin + (1 | Subject)",
                sl, "data/sleep_factor.csv", with_ranef = TRUE),
    model_entry("sleep_dbin_noint", "0 + factor: one column per level", "Reaction ~ 0 + dbin + (1 | Subject)",
                sl, "data/sleep_factor.csv"),
    model_entry("sleep_zero_slope_only", "random slope without intercept (0 + Days | Subject)",
                "Reaction ~ Days + (0 + Days | Subject)", sl, "data/sleep_factor.csv"),
    model_entry("sleep_log_slope", "a transform inside the random term",
                "Reaction ~ log(Days + 1) + (log(Days + 1) | Subject)", sl, "data/sleep_factor.csv",
                with_ranef = TRUE),
    model_entry("sleep_log_slope_compact", "the same model written without spaces in Python",
                "Reaction ~ log(Days + 1) + (log(Days + 1) | Subject)", sl, "data/sleep_factor.csv",
                python_formula = "Reaction~log(Days+1)+(log(Days+1)|Subject)"),
    model_entry("sleep_dbin_x_days", "factor x numeric interaction, random slope",
                "Reaction ~ dbin * Days + (Days | Subject)", sl, "data/sleep_factor.csv")
  ))

# ================================================================ 2. hsb formulas
cat("case hsb_formulas\n")
hsb <- read_pkg("hsb")
write_case("hsb_formulas",
  "High School and Beyond (package data set hsb): interactions, transforms, no-intercept forms, || and q = 3",
  list(
    model_entry("hsb_interact_transform", "interaction, I(ses^2), log(size), correlated slope",
                "mathach ~ ses * female + I(ses^2) + log(size) + (1 + ses | school)", hsb, "package:hsb",
                with_ranef = TRUE),
    model_entry("hsb_three_way", "three-way interaction of numeric predictors, R term order",
                "mathach ~ ses * female * catholic + (1 | school)", hsb, "package:hsb"),
    model_entry("hsb_zero_plus", "no intercept via 0 +", "mathach ~ 0 + ses + female + (1 | school)",
                hsb, "package:hsb"),
    model_entry("hsb_minus_one", "no intercept via - 1", "mathach ~ ses + female - 1 + (1 | school)",
                hsb, "package:hsb"),
    model_entry("hsb_double_bar", "uncorrelated intercept and slope via ||", "mathach ~ ses + (ses || school)",
                hsb, "package:hsb", with_ranef = TRUE),
    model_entry("hsb_q3", "three correlated random effects", "mathach ~ ses + female + (1 + ses + female | school)",
                hsb, "package:hsb")
  ))

# ================================================================ 3. categorical: unused level, string groups, C(k)
cat("case categorical\n")
set.seed(303)
n_site <- 24
site_lab <- sprintf("site_%s", c(letters, LETTERS)[seq_len(n_site)])
d3 <- data.frame(site = rep(site_lab, each = 15))
d3$dose <- sample(c("low", "mid", "high"), nrow(d3), replace = TRUE)
d3$sex <- sample(c("f", "m"), nrow(d3), replace = TRUE)
d3$k <- sample(1:3, nrow(d3), replace = TRUE)
u <- rnorm(n_site, 0, 1.2)
eff <- c(low = 0, mid = 0.8, high = 1.5)
d3$y <- 10 + eff[d3$dose] + 0.5 * (d3$sex == "m") + 0.3 * (d3$dose == "high") * (d3$sex == "m") +
  c(0, -0.4, 0.6)[d3$k] + u[match(d3$site, site_lab)] + rnorm(nrow(d3), 0, 1)
d3$w <- runif(nrow(d3), 0.5, 3)  # drawn after y: a continuous covariate for transforms
d3$kk <- c(1, 2, 10)[d3$k]                                          # numeric codes 1, 2, 10
d3$flag <- runif(nrow(d3)) < 0.4                                    # logical column
d3$arm <- sample(c("control", "Drug A", "Drug B"), nrow(d3), replace = TRUE)  # mixed case, spaces
d3 <- write_back(d3, "categorical.csv")
dose_levels <- c("none", "low", "mid", "high")  # "none" is never observed
d3$dose <- factor(d3$dose, levels = dose_levels)
write_case("categorical",
  "Simulated: string grouping factor site, factor dose with an unused first level 'none' (lme4 drops unused levels, so 'low' becomes the reference, and keeps the declared order), numeric k used as a factor",
  list(
    model_entry("cat_unused_level", "factor with unused level + string groups",
                "y ~ dose + sex + (1 | site)", d3, "data/categorical.csv",
                categorical = list(dose = dose_levels), with_ranef = TRUE),
    model_entry("cat_factor_interaction", "factor x factor interaction",
                "y ~ dose * sex + (1 | site)", d3, "data/categorical.csv",
                categorical = list(dose = dose_levels)),
    model_entry("cat_C_numeric", "numeric column as a factor: R factor(k), Python C(k)",
                "y ~ factor(k) + (1 | site)", d3, "data/categorical.csv",
                python_formula = "y ~ C(k) + (1 | site)",
                name_map = list(`factor(k)2` = "C(k)2", `factor(k)3` = "C(k)3")),
    model_entry("cat_C_numeric_order", "C() of numeric codes 1, 2, 10: numeric level order",
                "y ~ factor(kk) + (1 | site)", d3, "data/categorical.csv",
                python_formula = "y ~ C(kk) + (1 | site)",
                name_map = list(`factor(kk)2` = "C(kk)2", `factor(kk)10` = "C(kk)10")),
    model_entry("cat_logical", "logical TRUE/FALSE column: lme4 name flagTRUE",
                "y ~ flag + w + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_mixed_case_levels",
                "levels 'control', 'Drug A', 'Drug B': R sorts them by locale collation (control first), not by code point",
                "y ~ arm + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_log_response", "transformed response log(y)",
                "log(y) ~ sex + w + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_factor_slope", "a factor as a random slope: terms (Intercept), sexm",
                "y ~ sex + (1 + sex | site)", d3, "data/categorical.csv", with_ranef = TRUE),
    model_entry("cat_transforms", "sqrt, I(^), exp, and factor:numeric without the main effect",
                "y ~ sqrt(w) + I(w^2) + exp(w/3) + sex:w + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_transform_spacing", "R deparse spacing in names: 'log(w + 1)', 'I(w/2 - 1)', 'I((w - 1)^2)'",
                "y ~ log(w+1) + I(w/2-1) + I((w-1)^2) + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_transforms_aliased", "k has 3 values: sqrt(k), I(k^2), exp(k/3) aliased; lme4 drops 2",
                "y ~ sqrt(k) + I(k^2) + exp(k/3) + sex:k + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_scale", "scale() (R: centred, divided by the n-1 SD)",
                "y ~ scale(k) + sex + (1 | site)", d3, "data/categorical.csv"),
    model_entry("cat_poly", "orthogonal polynomial poly(k, 2)",
                "y ~ poly(k, 2) + (1 | site)", d3, "data/categorical.csv")
  ), rng = RNG(303))

# ================================================================ 4. nested with slopes
cat("case nested\n")
set.seed(404)
n_school <- 15; n_class <- 4
d4 <- expand.grid(student = 1:9, class = letters[1:n_class], school = sprintf("s%02d", 1:n_school),
                  stringsAsFactors = FALSE)
d4 <- d4[sample(nrow(d4), 480), c("school", "class")]  # unbalanced: drop some students
d4 <- d4[order(d4$school, d4$class), ]
d4$x <- rnorm(nrow(d4))
b0 <- rnorm(n_school, 0, 1.0); b1 <- rnorm(n_school, 0, 0.5)
sidx <- match(d4$school, sprintf("s%02d", 1:n_school))
cls <- paste(d4$school, d4$class)
cu <- rnorm(length(unique(cls)), 0, 0.7)
d4$y <- 5 + 1.5 * d4$x + b0[sidx] + b1[sidx] * d4$x + cu[match(cls, unique(cls))] + rnorm(nrow(d4))
d4 <- write_back(d4, "nested.csv")
write_case("nested",
  "Simulated students in classes (labels a-d repeat across schools) in 15 schools",
  list(
    model_entry("nested_slope", "random slope for school, intercept for class within school",
                "y ~ x + (1 + x | school) + (1 | school:class)", d4, "data/nested.csv", with_ranef = TRUE),
    model_entry("nested_slash", "nested intercepts via /", "y ~ x + (1 | school/class)", d4,
                "data/nested.csv", with_ranef = TRUE),
    model_entry("nested_null", "three-level null model: ICC per level", "y ~ 1 + (1 | school/class)",
                d4, "data/nested.csv"),
    model_entry("nested_slash_slope", "nested with slopes at both levels via /",
                "y ~ x + (1 + x | school/class)", d4, "data/nested.csv")
  ), rng = RNG(404))

# ================================================================ 5. crossed with slopes
cat("case crossed\n")
set.seed(505)
d5 <- expand.grid(item = sprintf("i%02d", 1:20), subj = sprintf("p%02d", 1:30), stringsAsFactors = FALSE)
d5 <- d5[, c("subj", "item")]
d5$x <- ifelse(runif(nrow(d5)) < 0.5, -0.5, 0.5)
sb0 <- rnorm(30, 0, 1); sb1 <- rnorm(30, 0, 0.6); ib0 <- rnorm(20, 0, 0.8)
si <- match(d5$subj, sprintf("p%02d", 1:30)); ii <- match(d5$item, sprintf("i%02d", 1:20))
d5$y <- 3 + 0.7 * d5$x + sb0[si] + sb1[si] * d5$x + ib0[ii] + rnorm(nrow(d5), 0, 1)
d5 <- write_back(d5, "crossed.csv")
write_case("crossed", "Simulated 30 subjects x 20 items, fully crossed, within-subject x",
  list(
    model_entry("crossed_slope", "crossed with a correlated random slope",
                "y ~ x + (1 + x | subj) + (1 | item)", d5, "data/crossed.csv", with_ranef = TRUE),
    model_entry("crossed_null", "crossed null model: ICC per factor", "y ~ 1 + (1 | subj) + (1 | item)",
                d5, "data/crossed.csv"),
    model_entry("crossed_double_bar", "crossed, uncorrelated slope via ||",
                "y ~ x + (x || subj) + (1 | item)", d5, "data/crossed.csv")
  ), rng = RNG(505))

# ================================================================ 6. missing values
cat("case missing\n")
set.seed(606)
d6 <- data.frame(g = rep(sprintf("g%02d", 1:40), times = sample(4:12, 40, replace = TRUE)))
d6$x <- rnorm(nrow(d6)); d6$z <- runif(nrow(d6))
gi <- match(d6$g, sprintf("g%02d", 1:40))
d6$y <- 1 + 0.5 * d6$x - 1 * d6$z + rnorm(40, 0, 0.8)[gi] + rnorm(40, 0, 0.3)[gi] * d6$x +
  rnorm(nrow(d6))
d6$unused <- rnorm(nrow(d6))
idx <- sample(nrow(d6))
d6$y[idx[1:10]] <- NA
d6$x[idx[11:18]] <- NA
d6$g[idx[19:23]] <- NA
d6$unused[idx[24:40]] <- NA   # not in any formula: those rows must be kept
d6$x[idx[1:3]] <- NA          # overlap with missing y
d6$arm <- sample(c("control", "treated"), nrow(d6), replace = TRUE)  # drawn last: y unchanged
d6$arm[sample(nrow(d6), 7)] <- NA
d6$gid <- 100L * match(d6$g, sprintf("g%02d", 1:40))  # integer ids 100..4000, NA where g is NA
d6 <- write_back(d6, "missing.csv")
write_case("missing",
  "Simulated, with NAs (empty fields) in y, x, the grouping column g, and an unused column; lme4 drops rows with NA in the model's variables only (na.omit)",
  list(
    model_entry("missing_intercept", "NA in outcome, predictor and group", "y ~ x + z + (1 | g)", d6,
                "data/missing.csv", with_ranef = TRUE),
    model_entry("missing_slope", "NA with a random slope", "y ~ x + z + (1 + x | g)", d6,
                "data/missing.csv"),
    model_entry("missing_integer_ids", "integer group ids with NAs (pandas reads them as float)",
                "y ~ x + (1 | gid)", d6, "data/missing.csv", with_ranef = TRUE),
    model_entry("missing_factor", "NA also in a string factor arm", "y ~ x + arm + (1 | g)", d6,
                "data/missing.csv", with_ranef = TRUE)
  ), rng = RNG(606))

# ================================================================ 7. hard cases
cat("case hard\n")
first_singular <- function(make, formula, from) {
  # Smallest seed >= from whose simulated data give a singular fit by REML and by ML.
  for (s in from:(from + 500)) {
    d <- make(s)
    ok <- all(vapply(c(TRUE, FALSE), function(r) isSingular(suppressMessages(suppressWarnings(
      lmer(as.formula(formula), data = d, REML = r, control = ctrl_nl)))), TRUE))
    if (ok) return(s)
  }
  stop("no singular seed found")
}
make_zero <- function(s) {
  set.seed(s)
  d <- data.frame(g = rep(sprintf("g%d", 1:12), each = 10))
  d$x <- rnorm(nrow(d)); d$y <- 2 + 0.5 * d$x + rnorm(nrow(d))
  d
}
seed_zero <- first_singular(make_zero, "y ~ x + (1 | g)", 700)
dz <- write_back(make_zero(seed_zero), "hard_zero_variance.csv")

make_zslope <- function(s) {
  set.seed(s)
  d <- data.frame(g = rep(sprintf("g%d", 1:20), each = 8))
  d$x <- rnorm(nrow(d)); gi <- match(d$g, sprintf("g%d", 1:20))
  d$y <- 2 + 0.5 * d$x + rnorm(20, 0, 1)[gi] + rnorm(nrow(d))  # no slope variance
  d
}
seed_zslope <- first_singular(make_zslope, "y ~ x + (1 + x | g)", 800)
dzs <- write_back(make_zslope(seed_zslope), "hard_zero_slope.csv")

set.seed(707)
ds <- data.frame(g = rep(sprintf("g%02d", 1:25), each = 12))
gi <- match(ds$g, sprintf("g%02d", 1:25))
ds$xbig <- rnorm(nrow(ds), 0, 1e3); ds$xsmall <- rnorm(nrow(ds), 0, 1e-3)
ds$y <- 4 + 2e-3 * ds$xbig + 1.5e3 * ds$xsmall + rnorm(25)[gi] + rnorm(nrow(ds))
ds <- write_back(ds, "hard_scales.csv")

set.seed(708)
sizes <- c(400, 300, 250, sample(1:2, 150, replace = TRUE))
du <- data.frame(g = rep(sprintf("u%03d", seq_along(sizes)), times = sizes))
gi <- match(du$g, sprintf("u%03d", seq_along(sizes)))
du$x <- rnorm(nrow(du))
du$y <- 1 + 0.8 * du$x + rnorm(length(sizes), 0, 0.9)[gi] + rnorm(length(sizes), 0, 0.4)[gi] * du$x +
  rnorm(nrow(du))
du <- write_back(du, "hard_unbalanced.csv")

set.seed(709)
d2 <- data.frame(g = rep(c("left", "right"), times = c(40, 60)))
d2$x <- rnorm(nrow(d2))
d2$y <- 1 + 0.3 * d2$x + ifelse(d2$g == "left", -1, 1) + rnorm(nrow(d2))
d2 <- write_back(d2, "hard_two_groups.csv")

set.seed(710)
dc <- data.frame(g = rep(sprintf("g%02d", 1:20), each = 10))
gi <- match(dc$g, sprintf("g%02d", 1:20))
dc$x1 <- rnorm(nrow(dc)); dc$x2 <- rnorm(nrow(dc)); dc$x3 <- dc$x1 + 2 * dc$x2
dc$y <- 1 + dc$x1 - dc$x2 + rnorm(20)[gi] + rnorm(nrow(dc))
dc <- write_back(dc, "hard_collinear.csv")

write_case("hard", "Numerically hard fits (issue 6): boundary, scales, unbalanced, two groups, collinear",
  list(
    model_entry("hard_zero_variance", "true zero group variance: singular, theta = 0",
                "y ~ x + (1 | g)", dz, "data/hard_zero_variance.csv", with_ranef = TRUE),
    model_entry("hard_zero_slope", "no slope variance: singular 2x2 block", "y ~ x + (1 + x | g)",
                dzs, "data/hard_zero_slope.csv"),
    model_entry("hard_scales", "predictors on scales 1e6 apart", "y ~ xbig + xsmall + (1 | g)", ds,
                "data/hard_scales.csv"),
    model_entry("hard_scales_slope", "random slope on the large-scale predictor",
                "y ~ xbig + xsmall + (1 + xbig | g)", ds, "data/hard_scales.csv"),
    model_entry("hard_unbalanced", "3 groups of 250-400, 150 groups of size 1-2", "y ~ x + (1 | g)", du,
                "data/hard_unbalanced.csv", with_ranef = TRUE),
    model_entry("hard_unbalanced_slope", "unbalanced with a random slope", "y ~ x + (1 + x | g)", du,
                "data/hard_unbalanced.csv"),
    model_entry("hard_two_groups", "only two groups", "y ~ x + (1 | g)", d2, "data/hard_two_groups.csv",
                with_ranef = TRUE),
    model_entry("hard_collinear", "x3 = x1 + 2 x2: lme4 drops x3", "y ~ x1 + x2 + x3 + (1 | g)", dc,
                "data/hard_collinear.csv")
  ), rng = list(seeds = list(zero_variance = seed_zero, zero_slope = seed_zslope, scales = 707,
                             unbalanced = 708, two_groups = 709, collinear = 710),
                kind = RNGkind()))
cat("done\n")
