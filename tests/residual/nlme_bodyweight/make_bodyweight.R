# nlme 3.1-162 on BodyWeight (rats' weights over time): continuous-time AR(1) with varPower of the
# fitted values, nlme's default start (stops at a local optimum) and started at multilevel's
# optimum (reaches it); varPower alone and of a column. Rscript make_bodyweight.R > bodyweight.json
suppressPackageStartupMessages({library(nlme); library(jsonlite)})
d <- as.data.frame(BodyWeight); d$Rat <- factor(as.character(d$Rat)); d$Diet <- factor(d$Diet)
write.csv(d[, c("weight", "Time", "Rat", "Diet")], "bodyweight.csv", row.names = FALSE)
d <- read.csv("bodyweight.csv"); d$Rat <- factor(d$Rat); d$Diet <- factor(d$Diet)
d$Time1 <- d$Time + 1
out <- function(m) list(
  fixed_effects = unname(fixef(m)), std_errors = unname(sqrt(diag(vcov(m)))),
  loglik = as.numeric(logLik(m)), sigma = m$sigma,
  phi = if (is.null(m$modelStruct$corStruct)) NULL else
    unname(coef(m$modelStruct$corStruct, unconstrained = FALSE)),
  power = unname(coef(m$modelStruct$varStruct, unconstrained = FALSE)))
f <- weight ~ Time * Diet
res <- list(
  car1_power_default = out(lme(f, random = ~ 1 | Rat, data = d,
    correlation = corCAR1(form = ~ Time | Rat), weights = varPower())),
  car1_power_from_ours = out(lme(f, random = ~ 1 | Rat, data = d,
    correlation = corCAR1(0.9974, form = ~ Time | Rat), weights = varPower(0.7616))),
  power_fitted = out(lme(f, random = ~ 1 | Rat, data = d, weights = varPower())),
  power_time1 = out(lme(f, random = ~ 1 | Rat, data = d, weights = varPower(form = ~ Time1))),
  software = list(R = R.version.string, nlme = as.character(packageVersion("nlme"))))
cat(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE))
