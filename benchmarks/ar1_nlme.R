# nlme side of benchmarks/ar1_nlme.py: Rscript ar1_nlme.R data.csv slope|intercept
suppressPackageStartupMessages({library(nlme); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); d$id <- factor(d$id)
random <- if (args[2] == "slope") ~ t | id else ~ 1 | id
times <- system.time(
  m <- lme(y ~ t + x, random = random, data = d, correlation = corAR1(form = ~ t | id),
           method = "REML", control = lmeControl(returnObject = TRUE))
)
wall <- times[["elapsed"]]
cpu <- times[["user.self"]] + times[["sys.self"]]
cat(toJSON(list(wall_seconds = wall, cpu_seconds = cpu, rows = nrow(d), loglik = as.numeric(logLik(m)),
                phi = as.numeric(coef(m$modelStruct$corStruct, unconstrained = FALSE)),
                beta = as.list(fixef(m)), sigma = m$sigma,
                nlme = as.character(packageVersion("nlme"))), auto_unbox = TRUE, digits = NA))
