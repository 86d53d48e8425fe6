SELECT count(*) AS n, sum(classification_id) AS best_predictions FROM bp_{variant};
