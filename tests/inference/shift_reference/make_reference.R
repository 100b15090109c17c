# lme4/lmerTest/pbkrtest/clubSandwich on y ~ x + w + (1 | g) with x near 1e4 (a moderate shift
# where lme4 still works): Kenward-Roger and Satterthwaite SE/df, anova F, CR2 SE/df, profile
# intervals (ML). Run: Rscript make_reference.R (writes reference.json beside it).
suppressMessages({library(lmerTest); library(pbkrtest); library(clubSandwich); library(jsonlite)})
d <- read.csv("data.csv")
m <- lmer(y ~ x + w + (1 | g), data = d, REML = TRUE)
s_kr <- summary(m, ddf = "Kenward-Roger")$coefficients
s_sat <- summary(m)$coefficients
a_sat <- anova(m)
a_kr <- anova(m, ddf = "Kenward-Roger")
cr <- coef_test(m, vcov = "CR2", cluster = d$g, test = "Satterthwaite")
ml <- lmer(y ~ x + w + (1 | g), data = d, REML = FALSE)
ci <- confint(ml, method = "profile", oldNames = FALSE)
out <- list(
  versions = list(lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest")),
                  pbkrtest = as.character(packageVersion("pbkrtest")),
                  clubSandwich = as.character(packageVersion("clubSandwich"))),
  loglik_reml = as.numeric(logLik(m)), loglik_ml = as.numeric(logLik(ml)),
  beta = unname(fixef(m)),
  kr_se = unname(s_kr[, "Std. Error"]), kr_df = unname(s_kr[, "df"]),
  sat_se = unname(s_sat[, "Std. Error"]), sat_df = unname(s_sat[, "df"]),
  anova_sat_F = unname(a_sat[["F value"]]), anova_sat_df = unname(a_sat[["DenDF"]]),
  anova_kr_F = unname(a_kr[["F value"]]), anova_kr_df = unname(a_kr[["DenDF"]]),
  cr2_se = unname(cr$SE), cr2_df = unname(cr$df_Satt),
  profile_names = rownames(ci), profile_lower = unname(ci[, 1]), profile_upper = unname(ci[, 2])
)
write_json(out, "reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
