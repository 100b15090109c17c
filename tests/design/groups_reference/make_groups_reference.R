# lme4 reference for the order of grouping levels by type of id (issue 15: one group coding).
#
#   Rscript tests/design/groups_reference/make_groups_reference.R
#
# groups.csv: 240 rows, 12 groups written as integers (g_int), decimals (g_float), text in R's
# collation (g_text: "_z", "A", "a10", "a9", "ete", "\u00e9t\u00e9", ...), logicals (g_bool),
# and the interaction a:b of a text column and an integer one (whose numeric order differs from
# its text order: 5 < 10). read.csv gives R's types (integer, double, character, logical).
# Each model is fitted by REML (bobyqa, tight tolerances) and written to groups.json: the level
# names of each grouping factor in lme4's order (rownames of ranef), loglik, theta, beta.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

script_file <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
here <- normalizePath(dirname(script_file))
d <- read.csv(file.path(here, "groups.csv"), stringsAsFactors = FALSE, encoding = "UTF-8")
stopifnot(is.integer(d$g_int), is.double(d$g_float), is.character(d$g_text),
          is.logical(d$g_bool), is.integer(d$b))

formulas <- c(
  "y ~ x + (1 | g_int)",
  "y ~ x + (1 | g_float)",
  "y ~ x + (1 | g_text)",
  "y ~ x + (1 | g_bool)",
  "y ~ x + (1 | a:b)",
  "y ~ x + (1 | a) + (1 | a:b)"
)

fit_one <- function(f) {
  m <- lmer(as.formula(f), d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa",
                                  optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  list(
    formula = f,
    levels = lapply(ranef(m), rownames),
    loglik = as.numeric(logLik(m)),
    theta = unname(getME(m, "theta")),
    beta = unname(fixef(m))
  )
}

out <- list(
  R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  collate = Sys.getlocale("LC_COLLATE"),
  fits = lapply(formulas, fit_one)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(here, "groups.json"))
