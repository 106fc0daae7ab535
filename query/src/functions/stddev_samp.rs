//! `stddev_samp`: DataFusion's sample standard deviation aggregate, kept under that name only,
//! because `stddev` in our SQL is the TA-Lib indicator (the strategy-graph spec's name for it).

use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, Signature};

/// The built-in `stddev` aggregate, renamed `stddev_samp`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StddevSamp {
    inner: Arc<AggregateUDF>,
}

impl StddevSamp {
    pub fn new() -> Self {
        Self { inner: datafusion::functions_aggregate::stddev::stddev_udaf() }
    }
}

impl Default for StddevSamp {
    fn default() -> Self {
        Self::new()
    }
}

impl AggregateUDFImpl for StddevSamp {
    fn name(&self) -> &str {
        "stddev_samp"
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }
    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        self.inner.create_groups_accumulator(args)
    }
    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}
