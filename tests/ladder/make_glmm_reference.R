# Reference for the GLMM ladder (tests/ladder/test_glmm_ladder.py): lme4's glmer (Laplace, an
# exact PIRLS) on the ladder's models, anova() LRTs between consecutive models, and the
# performance package's icc() / r2_nakagawa() (latent scale: pi^2/3 for logit; Poisson:
# log(1 + 1/exp(b0 of the null model))).
#   binary:  hsb, high = mathach > 15 (0/1), school; level 1 cses; level 2 meanses, catholic
#   count:   grouseticks, TICKS, LOCATION; level 1 yr = YEAR - 1996; level 2 cHEIGHT
# Run from the repository root:  Rscript tests/ladder/make_glmm_reference.R
suppressPackageStartupMessages({library(lme4); library(jsonlite); library(performance)})
ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10,
                     maxfun = 1e5), calc.derivs = TRUE)
one <- function(step, formula, data, family, nAGQ = 1) {
  m <- glmer(as.formula(formula), data, family = family, nAGQ = nAGQ, control = ctrl)
  V <- as.matrix(vcov(m))
  icc <- suppressWarnings(performance::icc(m))
  r2 <- suppressWarnings(performance::r2_nakagawa(m))
  list(step = step, formula = formula, nagq = nAGQ, fit = m,
       out = list(step = step, formula = formula, nagq = nAGQ, names = names(fixef(m)),
         beta = unname(fixef(m)), std_error = unname(sqrt(diag(V))),
         theta = unname(getME(m, "theta")), loglik = as.numeric(logLik(m)),
         aic = AIC(m), bic = BIC(m), npar = attr(logLik(m), "df"),
         tau00 = as.numeric(VarCorr(m)[[1]][1, 1]),
         icc_adjusted = if (is.list(icc)) icc$ICC_adjusted else NULL,
         r2_marginal = if (is.list(r2)) unname(r2$R2_marginal) else NULL,
         r2_conditional = if (is.list(r2)) unname(r2$R2_conditional) else NULL))
}
ladder <- function(id, data, family, forms, nAGQ = 1) {
  fits <- Map(function(s, f) one(s, f, data, family, if (grepl("\\+ [a-zA-Z]+ \\|", f)) 1 else nAGQ),
              names(forms), forms)
  tests <- list()
  for (k in seq_along(fits)[-1]) {
    a <- anova(fits[[k - 1]]$fit, fits[[k]]$fit)
    tests[[k - 1]] <- list(model_reduced = names(forms)[k - 1], model_full = names(forms)[k],
                           chisq = a$Chisq[2], df = a$Df[2], p_value = a$`Pr(>Chisq)`[2])
  }
  list(id = id, family = family, nagq = nAGQ, models = unname(lapply(fits, `[[`, "out")),
       tests = tests)
}
hsb <- read.csv("src/multilevel/datasets/data/hsb.csv")
hsb$school <- factor(hsb$school)
hsb$high <- as.integer(hsb$mathach > 15)
gt <- read.csv("tests/glmm/reference/grouseticks.csv",
               colClasses = c(BROOD = "character", LOCATION = "character", INDEX = "character"))
gt$yr <- gt$YEAR - 1996
bin <- c(null = "high ~ 1 + (1 | school)",
         random_intercept = "high ~ cses + (1 | school)",
         intercepts_as_outcomes = "high ~ cses + meanses + catholic + (1 | school)",
         random_slopes = "high ~ cses + meanses + catholic + (1 + cses | school)",
         slopes_as_outcomes = "high ~ cses * (meanses + catholic) + (1 + cses | school)")
cnt <- c(null = "TICKS ~ 1 + (1 | LOCATION)",
         random_intercept = "TICKS ~ yr + (1 | LOCATION)",
         intercepts_as_outcomes = "TICKS ~ yr + cHEIGHT + (1 | LOCATION)",
         random_slopes = "TICKS ~ yr + cHEIGHT + (1 + yr | LOCATION)",
         slopes_as_outcomes = "TICKS ~ yr * cHEIGHT + (1 + yr | LOCATION)")
out <- list(
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  performance = as.character(packageVersion("performance"))),
  control = "glmerControl(tolPwrss = 1e-12, optimizer = 'bobyqa', rhoend = 1e-10)",
  ladders = list(ladder("hsb_binary", hsb, "binomial", bin),
                 ladder("hsb_binary_agq", hsb, "binomial", bin[1:3], nAGQ = 10),
                 ladder("grouseticks_poisson", gt, "poisson", cnt)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "tests/ladder/glmm_reference.json")
