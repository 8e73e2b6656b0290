"""What the Lambda API asks of the lab, over the Lambda service and the asynchronous queue."""

import datetime

from ..errors import InvalidParameterValueException, LambdaServiceError
from ..limits import function_arn
from ..request import InvocationRequest

DEFAULT_ROLE_NAME = "lambdalab-default-role-allows-everything"


class LabControl:
    """The control plane and data plane the Lambda API translates to (``aws.lambda_api.LambdaAPI``)."""

    def __init__(self, service, async_queue, *, region, account_id):
        self.service = service
        self.async_queue = async_queue
        self.region = region
        self.account_id = account_id
        self._modified = {}
        self.event_source_mappings = None    # sources.mappings.EventSourceMappings, attached by the lab
        self.layers = None                   # packaging.LayerStore, attached by the lab

    # -- reading -----------------------------------------------------------------------------------
    def function_names(self):
        return list(self.service.functions())

    def configuration(self, name):
        return self.service.get(name).config        # ResourceNotFoundException when absent

    def function_arn(self, name):
        return function_arn(name, self.region, self.account_id)

    def role_arn(self, name):
        role = getattr(self.configuration(name), "role", None)
        return role or f"arn:aws:iam::{self.account_id}:role/{DEFAULT_ROLE_NAME}"

    def code_location(self, name):
        config = self.configuration(name)
        return f"file://lambdalab/code/{config.name}-{config.code_sha256[:16]}"

    def package(self, name):
        """The package's sizes (``function.package_sizes``: zipped, unzipped, layers_unzipped)."""
        from ..function import package_sizes
        state = self.service.get(name)
        if state.config.image is not None:
            return {"zipped": 0, "unzipped": state.config.image.size, "layers_unzipped": 0}
        return package_sizes(state.config, state.code_dir)

    def layer_size(self, arn):
        """A layer version's CodeSize (zipped), or 0 when this control has no layer store."""
        store = self.layers
        return store.get(arn).code_size if store is not None else 0

    def last_modified(self, name):
        self.configuration(name)
        stamp = self._modified.get(name) or datetime.datetime.now(datetime.timezone.utc)
        self._modified.setdefault(name, stamp)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

    # -- changing ----------------------------------------------------------------------------------
    def update_configuration(self, name, **changes):
        config = self.configuration(name)
        try:
            updated = config.replace(**changes)
        except TypeError as exc:
            raise InvalidParameterValueException(f"Cannot change that setting here: {exc}") from None
        self.service.put_function(updated)
        self._modified[name] = datetime.datetime.now(datetime.timezone.utc)
        return updated

    # -- invoking ----------------------------------------------------------------------------------
    def invoke(self, name, payload, *, invocation_type="RequestResponse", client_context=None,
               trace_header=None, caller=None, source="lambda-api"):
        """RequestResponse: the ``InvocationResult``; Event: the request id; DryRun: None."""
        # From inside a function, botocore sends the function's trace header: the chain goes on.
        request = InvocationRequest.caused_by(trace_header, name, payload or b"{}", invocation_type=invocation_type,
                                              client_context=client_context, source=source)
        self.configuration(name)                      # ResourceNotFoundException for every type
        if invocation_type == "DryRun":
            return None
        if invocation_type == "Event":
            return self.async_queue.submit(request)
        return self.service.invoke_request(request)

    # -- event source mappings -----------------------------------------------------------------------
    def mappings(self):
        """The lab's event source mappings (``sources.mappings.EventSourceMappings``)."""
        if self.event_source_mappings is None:
            raise LambdaServiceError("This lab has no event source mappings attached.")
        return self.event_source_mappings
