//! The single-group form of occlens's grouped aggregates (aggregates without GROUP BY, window
//! frames): a [`GroupsAccumulator`] driven with every row in group 0.

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// A groups accumulator that can be copied and sized to a number of groups.
pub trait Groups: GroupsAccumulator + Clone + std::fmt::Debug + Sync {
    fn resize(&mut self, groups: usize);
}

#[derive(Debug)]
pub struct Single<G: Groups>(pub G);

impl<G: Groups> Single<G> {
    /// A copy holding group 0, so that evaluating or reading the state leaves `self` intact.
    fn one(&self) -> G {
        let mut copy = self.0.clone();
        copy.resize(1);
        copy
    }
}

impl<G: Groups> Accumulator for Single<G> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        self.0.update_batch(values, &groups, None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&self.one().evaluate(EmitTo::All)?, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.one()
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        self.0.merge_batch(states, &groups, 1)
    }
}
