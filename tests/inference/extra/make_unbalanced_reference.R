# Extra references for the inference kit (unbalanced.json) on an unbalanced design with a covariate:
# lmerTest anova (types 1, 2, 3; Satterthwaite, Kenward-Roger) and emmeans.
# Rscript make_unbalanced_reference.R ../reference/cake.csv unbalanced.json
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(emmeans); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d <- d[-seq(1, 270, by = 7), ]  # unbalanced: every 7th row dropped (R rows 1, 8, ...)
d$recipe <- factor(d$recipe); d$temperature <- factor(d$temperature)
d$replicate <- factor(d$replicate)
models <- list(
  factorial = "angle ~ recipe * temperature + (1 | recipe:replicate)",
  covariate = "angle ~ recipe * temp + (1 | recipe:replicate)"
)
out <- list(data_rows_dropped = "every 7th row from the first (R rows 1, 8, 15, ...)", models = list())
for (id in names(models)) {
  f <- as.formula(models[[id]])
  tabs <- list()
  for (coding in c("treatment", "sum")) {
    ctr <- if (coding == "sum") list(recipe = "contr.sum", temperature = "contr.sum") else
      list(recipe = "contr.treatment", temperature = "contr.treatment")
    ctr <- ctr[names(ctr) %in% all.vars(f)]
    m <- lmer(f, data = d, contrasts = ctr)
    for (type in 1:3) for (ddf in c("Satterthwaite", "Kenward-Roger")) {
      a <- anova(m, type = type, ddf = ddf)
      tabs[[length(tabs) + 1]] <- list(coding = coding, type = type, ddf = ddf,
        rows = data.frame(term = rownames(a), num_df = a$NumDF, den_df = a$DenDF,
                          f_value = a$`F value`, p_value = a$`Pr(>F)`))
    }
  }
  m <- lmer(f, data = d)
  em <- emmeans(m, ~ recipe, lmer.df = "satterthwaite")
  es <- as.data.frame(summary(em))
  pr <- as.data.frame(summary(pairs(em, adjust = "holm")))
  out$models[[id]] <- list(formula = models[[id]], anova = tabs,
    emmeans = list(specs = "~ recipe", estimates = data.frame(recipe = as.character(es$recipe),
      emmean = es$emmean, se = es$SE, df = es$df),
      pairs_holm = data.frame(contrast = as.character(pr$contrast), estimate = pr$estimate,
        se = pr$SE, df = pr$df, p_value = pr$p.value)))
}
out$software <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")), emmeans = as.character(packageVersion("emmeans")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), args[2])
