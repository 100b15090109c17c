# Reference values for tests/simulate: boot's percentile interpolation, lme4's confint parameter
# names, and the spread of lme4's parametric bootstrap (bootMer) of sleepstudy.
# Run from this folder: Rscript make_reference.R  (writes reference.json)
suppressPackageStartupMessages({library(lme4); library(boot); library(jsonlite)})
out <- list()

# boot:::norm.inter on fixed vectors (quantiles used by boot.ci(type = "perc"))
x999 <- qnorm((1:999) / 1000)^3 + (1:999) / 100
x1000 <- sin(1:1000) * 10 + (1:1000) / 50
x20 <- c(3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4)
perc <- function(t, level) boot:::norm.inter(t, c((1 - level) / 2, (1 + level) / 2))[, 2]
out$norm_inter <- list(
  list(t = x999, level = 0.95, interval = perc(x999, 0.95)),
  list(t = x999, level = 0.80, interval = perc(x999, 0.80)),
  list(t = x1000, level = 0.95, interval = perc(x1000, 0.95)),
  list(t = x20, level = 0.90, interval = perc(x20, 0.90))
)

ss <- read.csv("../../src/multilevel/datasets/data/sleepstudy.csv")
names_of <- function(m) rownames(confint(m, method = "Wald", oldNames = FALSE))
pen <- read.csv("../../src/multilevel/datasets/data/penicillin.csv")
m1 <- lmer(Reaction ~ Days + (Days | Subject), ss)
out$confint_names <- list(
  list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy", names = names_of(m1)),
  list(formula = "Reaction ~ Days + (Days || Subject)", data = "sleepstudy",
       names = names_of(lmer(Reaction ~ Days + (Days || Subject), ss))),
  list(formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", data = "penicillin",
       names = names_of(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), pen)))
)

# bootMer of the REML fit: the spread of every parameter (SD over 2000 refits) and the
# percentile interval, to compare with ours within Monte Carlo error
set.seed(20261202)
stat <- function(m) {
  v <- as.data.frame(VarCorr(m), order = "lower.tri")  # confint's order
  c(v$sdcor, fixef(m))
}
b <- bootMer(m1, stat, nsim = 2000, use.u = FALSE, type = "parametric")
out$bootmer <- list(
  formula = "Reaction ~ Days + (Days | Subject)", nsim = 2000,
  names = names_of(m1),
  estimate = unname(stat(m1)),
  sd = unname(apply(b$t, 2, sd, na.rm = TRUE)),
  mean = unname(colMeans(b$t, na.rm = TRUE)),
  lower = unname(apply(b$t, 2, function(t) perc(t, 0.95)[1])),
  upper = unname(apply(b$t, 2, function(t) perc(t, 0.95)[2]))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
