# References for the binomial comparison estimators on tests/compare/glmm_binary.csv:
# glm (logit), sandwich::vcovCL (HC0, without and with the cluster adjustment G/(G-1)),
# geepack::geeglm (exchangeable, independence), lme4::glmer (Laplace, exact PIRLS).
# Run: Rscript make_glm_reference.R   (writes glm_reference.json beside this script)
suppressMessages({library(sandwich); library(geepack); library(lme4); library(jsonlite)})
d <- read.csv("glmm_binary.csv", colClasses = c(school = "character"))
d$school <- factor(d$school)
d <- d[order(d$school), ]
f <- y ~ x + w
coefs <- function(est, V) list(estimate = unname(est), std_error = unname(sqrt(diag(V))))
m <- glm(f, binomial, d)
out <- list(
  software = list(R = R.version.string, sandwich = as.character(packageVersion("sandwich")),
                  geepack = as.character(packageVersion("geepack")),
                  lme4 = as.character(packageVersion("lme4"))),
  names = names(coef(m)),
  glm = c(coefs(coef(m), vcov(m)), loglik = as.numeric(logLik(m))),
  glm_cluster_cr0 = coefs(coef(m), vcovCL(m, cluster = ~school, type = "HC0", cadjust = FALSE)),
  glm_cluster_cr1 = coefs(coef(m), vcovCL(m, cluster = ~school, type = "HC0", cadjust = TRUE)))
for (cs in c("exchangeable", "independence")) {
  g <- geeglm(f, binomial, d, id = school, corstr = cs)
  out[[paste0("gee_", cs)]] <- c(coefs(coef(g), vcov(g)),
                                 alpha = if (cs == "exchangeable") unname(g$geese$alpha) else NA)
}
ml <- glmer(y ~ x + w + (1 | school), d, binomial,
            control = glmerControl(tolPwrss = 1e-12, optimizer = "bobyqa",
                                   optCtrl = list(rhoend = 1e-10)))
out$multilevel <- c(coefs(fixef(ml), as.matrix(vcov(ml))), loglik = as.numeric(logLik(ml)),
                    tau00 = unname(VarCorr(ml)$school[1, 1]))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "glm_reference.json")
