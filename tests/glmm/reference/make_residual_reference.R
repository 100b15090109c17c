# Pearson residuals (lme4's summary prints their quantiles as "Scaled residuals") and the Pearson
# dispersion ratio (performance::check_overdispersion) of glmer fits with an exact PIRLS, as in
# make_tight_reference.R, for the one summary of every fit (multilevel.result.summary).
# Run: Rscript make_residual_reference.R  (writes lme4_residuals.json beside this script)
suppressMessages({library(lme4); library(jsonlite); library(performance)})
here <- if (length(a <- commandArgs(trailingOnly = TRUE))) a[1] else "."
ctrl <- glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10),
                     calc.derivs = TRUE)
one <- function(id, formula, data, family) {
  m <- glmer(as.formula(formula), data, family = family, control = ctrl)
  r <- residuals(m, type = "pearson", scaled = TRUE)
  out <- list(model_id = id, formula = formula,
              pearson = unname(r), quantiles = unname(quantile(r, c(0, 0.25, 0.5, 0.75, 1))),
              df_residual = df.residual(m))
  if (family()$family == "poisson")
    out$dispersion_ratio <- unname(check_overdispersion(m)$dispersion_ratio)
  out
}
cb <- read.csv(file.path(here, "cbpp.csv"), colClasses = c(herd = "character"))
gt <- read.csv(file.path(here, "grouseticks.csv"),
               colClasses = c(BROOD = "character", LOCATION = "character", INDEX = "character"))
out <- list(
  software = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  performance = as.character(packageVersion("performance"))),
  control = "glmerControl(tolPwrss = 1e-12, optimizer = 'bobyqa', rhoend = 1e-10)",
  models = list(
    one("cbpp_period", "cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)", cb, binomial),
    one("grouseticks_brood", "TICKS ~ factor(YEAR) + cHEIGHT + (1 | BROOD)", gt, poisson)
  ))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(here, "lme4_residuals.json"))
