"""The GraphQL schema (SDL) of the Admin API subset the sandbox serves, for one API version.

Field names, enums and input shapes follow shopify.dev's reference pages; where a version changed a shape
(README: "API version"), the SDL is assembled for the configured version.
"""

from __future__ import annotations

import functools

from graphql import GraphQLSchema, build_schema

CONNECTION_ARGS = "first: Int, after: String, last: Int, before: String, reverse: Boolean = false"

TOPICS = (
    "APP_UNINSTALLED",
    "BULK_OPERATIONS_FINISH",
    "FULFILLMENTS_CREATE",
    "INVENTORY_LEVELS_UPDATE",
    "ORDERS_CANCELLED",
    "ORDERS_CREATE",
    "ORDERS_FULFILLED",
    "ORDERS_PAID",
    "ORDERS_PARTIALLY_FULFILLED",
    "ORDERS_UPDATED",
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "REFUNDS_CREATE",
)

CURRENCIES = "AUD CAD CHF CNY DKK EUR GBP HKD JPY MXN NOK NZD SEK SGD USD"


def _connection(name: str) -> str:
    return f"""
type {name}Connection {{ edges: [{name}Edge!]! nodes: [{name}!]! pageInfo: PageInfo! }}
type {name}Edge {{ cursor: String! node: {name}! }}"""


def sdl(version: str) -> str:
    v2025_04 = version >= "2025-04"
    v2026_01 = version >= "2026-01"
    v2026_04 = version >= "2026-04"
    # inventorySetQuantities: compareQuantity / ignoreCompareQuantity until 2026-04, changeFromQuantity from 2026-01.
    set_quantity_fields = ["inventoryItemId: ID!", "locationId: ID!", "quantity: Int!"]
    set_input_extra = []
    if not v2026_04:
        set_quantity_fields.append("compareQuantity: Int")
        set_input_extra.append("ignoreCompareQuantity: Boolean = false")
    if v2026_01:
        set_quantity_fields.append("changeFromQuantity: Int")
    adjust_change_fields = [
        "delta: Int!",
        "inventoryItemId: ID!",
        "locationId: ID!",
        "ledgerDocumentUri: String",
    ]
    if v2026_01:
        adjust_change_fields.append("changeFromQuantity: Int")
    webhook_input = [
        "format: WebhookSubscriptionFormat = JSON",
        "includeFields: [String!]",
        "filter: String",
        "metafieldNamespaces: [String!]",
        "callbackUrl: URL",
    ]
    if v2025_04:
        webhook_input.append("uri: String")
    fulfillment_status_extra = " FULFILLMENT_NOT_REQUIRED" if v2026_01 else ""
    level_extra = "isActive: Boolean!" if v2026_04 else ""
    idempotent = "directive @idempotent(key: String!) on FIELD" if v2026_01 else ""
    cancel_refund = (
        "refund: Boolean, refundMethod: OrderCancelRefundMethodInput" if v2025_04 else "refund: Boolean!"
    )
    connections = "".join(
        _connection(n)
        for n in (
            "Location",
            "Product",
            "ProductVariant",
            "InventoryItem",
            "InventoryLevel",
            "Order",
            "LineItem",
            "FulfillmentOrder",
            "FulfillmentOrderLineItem",
            "FulfillmentLineItem",
            "RefundLineItem",
            "OrderTransaction",
            "ShippingLine",
            "DiscountApplication",
            "WebhookSubscription",
        )
    )
    topics = " ".join(TOPICS)
    return f"""
{idempotent}
scalar DateTime
scalar Money
scalar Decimal
scalar URL
scalar UnsignedInt64
scalar JSON

interface Node {{ id: ID! }}
type PageInfo {{ hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }}
enum CurrencyCode {{ {CURRENCIES} }}
enum WeightUnit {{ GRAMS KILOGRAMS OUNCES POUNDS }}
enum ProductStatus {{ ACTIVE ARCHIVED DRAFT }}
enum ProductVariantInventoryPolicy {{ DENY CONTINUE }}
enum ProductSortKeys {{ CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR }}
enum ProductVariantSortKeys {{ FULL_TITLE ID INVENTORY_LEVELS_AVAILABLE INVENTORY_MANAGEMENT INVENTORY_POLICY
  INVENTORY_QUANTITY NAME POPULAR POSITION RELEVANCE SKU TITLE }}
enum OrderSortKeys {{ CREATED_AT CUSTOMER_NAME DESTINATION FINANCIAL_STATUS FULFILLMENT_STATUS ID ORDER_NUMBER
  PO_NUMBER PROCESSED_AT RELEVANCE TOTAL_ITEMS_QUANTITY TOTAL_PRICE UPDATED_AT }}
enum LocationSortKeys {{ ID NAME RELEVANCE }}
enum InventoryItemSortKeys {{ ID }}
enum OrderDisplayFinancialStatus {{ AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }}
enum OrderDisplayFulfillmentStatus {{ FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT
  REQUEST_DECLINED RESTOCKED SCHEDULED UNFULFILLED{fulfillment_status_extra} }}
enum OrderCancelReason {{ CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }}
enum FulfillmentOrderStatus {{ CANCELLED CLOSED IN_PROGRESS INCOMPLETE ON_HOLD OPEN SCHEDULED }}
enum FulfillmentStatus {{ CANCELLED ERROR FAILURE OPEN PENDING SUCCESS }}
enum RefundLineItemRestockType {{ CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }}
enum OrderTransactionKind {{ AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID }}
enum OrderTransactionStatus {{ AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }}
enum DiscountApplicationAllocationMethod {{ ACROSS EACH ONE }}
enum DiscountApplicationTargetSelection {{ ALL ENTITLED EXPLICIT }}
enum DiscountApplicationTargetType {{ LINE_ITEM SHIPPING_LINE }}
enum WebhookSubscriptionTopic {{ {topics} }}
enum WebhookSubscriptionFormat {{ JSON XML }}
enum BulkOperationStatus {{ CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }}
enum BulkOperationType {{ MUTATION QUERY }}
enum BulkOperationErrorCode {{ ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }}
enum BulkOperationUserErrorCode {{ INVALID LIMIT_REACHED OPERATION_IN_PROGRESS }}
enum CountPrecision {{ AT_LEAST EXACT }}
enum CountryCode {{ AU CA DE FR GB NZ US }}
enum InventorySetQuantitiesUserErrorCode {{ CHANGE_FROM_QUANTITY_STALE COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST IDEMPOTENCY_KEY_PARAMETER_MISMATCH IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
  INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_NAME INVALID_QUANTITY_NEGATIVE INVALID_QUANTITY_TOO_HIGH
  INVALID_QUANTITY_TOO_LOW INVALID_REASON INVALID_REFERENCE_DOCUMENT ITEM_NOT_STOCKED_AT_LOCATION
  NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR NON_MUTABLE_INVENTORY_ITEM }}
enum InventoryAdjustQuantitiesUserErrorCode {{ ADJUST_QUANTITIES_FAILED CHANGE_FROM_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST IDEMPOTENCY_KEY_PARAMETER_MISMATCH INTERNAL_LEDGER_DOCUMENT INVALID_AVAILABLE_DOCUMENT
  INVALID_INVENTORY_ITEM INVALID_LEDGER_DOCUMENT INVALID_LOCATION INVALID_QUANTITY_DOCUMENT INVALID_QUANTITY_NAME
  INVALID_QUANTITY_TOO_HIGH INVALID_QUANTITY_TOO_LOW INVALID_REASON INVALID_REFERENCE_DOCUMENT
  ITEM_NOT_STOCKED_AT_LOCATION MAX_ONE_LEDGER_DOCUMENT NON_MUTABLE_INVENTORY_ITEM }}
enum ProductVariantsBulkUpdateUserErrorCode {{ CANNOT_SET_NAME_FOR_REMOTE_VARIANT GREATER_THAN_OR_EQUAL_TO
  INVALID_INPUT MUST_BE_FOR_THIS_PRODUCT NEED_TO_ADD_OPTION_VALUES OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS
  PRODUCT_DOES_NOT_EXIST PRODUCT_VARIANT_DOES_NOT_EXIST PRODUCT_VARIANT_ID_MISSING UNSUPPORTED_COMBINED_LISTING_PARENT_OPERATION
  VARIANT_ALREADY_EXISTS }}
enum ProductVariantsBulkCreateUserErrorCode {{ INVALID INVALID_INPUT MUST_BE_FOR_THIS_PRODUCT NEED_TO_ADD_OPTION_VALUES
  OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS PRODUCT_DOES_NOT_EXIST TOO_MANY_INVENTORY_LOCATIONS
  VARIANT_ALREADY_EXISTS VARIANT_ALREADY_EXISTS_CHANGE_OPTION_VALUE }}
enum ProductVariantsBulkCreateStrategy {{ DEFAULT PRESERVE_STANDALONE_VARIANT REMOVE_STANDALONE_VARIANT }}
enum ProductSetUserErrorCode {{ DUPLICATED_OPTION_NAME DUPLICATED_OPTION_VALUE DUPLICATED_VALUE INVALID_INPUT
  INVALID_PRODUCT INVALID_VARIANT OPTIONS_OVER_LIMIT PRODUCT_DOES_NOT_EXIST VARIANTS_OVER_LIMIT }}
enum OrderCancelUserErrorCode {{ INVALID NOT_FOUND NO_REFUND_PERMISSION }}
enum ProductOperationStatus {{ ACTIVE COMPLETE CREATED }}

{connections}

type Count {{ count: Int! precision: CountPrecision! }}
type MoneyV2 {{ amount: Decimal! currencyCode: CurrencyCode! }}
type MoneyBag {{ shopMoney: MoneyV2! presentmentMoney: MoneyV2! }}
type PricingPercentageValue {{ percentage: Float! }}
union PricingValue = MoneyV2 | PricingPercentageValue
type Weight {{ unit: WeightUnit! value: Float! }}
type InventoryItemMeasurement {{ id: ID! weight: Weight }}
type Attribute {{ key: String! value: String }}
type Domain {{ host: String! url: URL! }}

type Shop implements Node {{
  id: ID! name: String! email: String! myshopifyDomain: String! primaryDomain: Domain! url: URL!
  currencyCode: CurrencyCode! ianaTimezone: String! timezoneAbbreviation: String! timezoneOffset: String!
  timezoneOffsetMinutes: Int! weightUnit: WeightUnit! taxesIncluded: Boolean! enabledPresentmentCurrencies: [CurrencyCode!]!
  createdAt: DateTime! updatedAt: DateTime!
}}

type LocationAddress {{ address1: String address2: String city: String province: String provinceCode: String
  zip: String country: String countryCode: String phone: String formatted: [String!]! }}
type Location implements Node {{
  id: ID! legacyResourceId: UnsignedInt64! name: String! isActive: Boolean! fulfillsOnlineOrders: Boolean!
  shipsInventory: Boolean! hasActiveInventory: Boolean! address: LocationAddress! createdAt: DateTime! updatedAt: DateTime!
  inventoryLevels({CONNECTION_ARGS}, query: String): InventoryLevelConnection!
  inventoryLevel(inventoryItemId: ID!): InventoryLevel
}}

type ProductOptionValue implements Node {{ id: ID! name: String! hasVariants: Boolean! }}
type ProductOption implements Node {{ id: ID! name: String! position: Int! values: [String!]! optionValues: [ProductOptionValue!]! }}
type SelectedOption {{ name: String! value: String! optionValue: ProductOptionValue! }}
type Product implements Node {{
  id: ID! legacyResourceId: UnsignedInt64! title: String! handle: String! status: ProductStatus! vendor: String!
  productType: String! tags: [String!]! descriptionHtml: String! description: String! createdAt: DateTime!
  updatedAt: DateTime! publishedAt: DateTime totalInventory: Int! tracksInventory: Boolean!
  hasOnlyDefaultVariant: Boolean! options(first: Int): [ProductOption!]!
  variants({CONNECTION_ARGS}): ProductVariantConnection! variantsCount: Count
}}
type ProductVariant implements Node {{
  id: ID! legacyResourceId: UnsignedInt64! title: String! displayName: String! sku: String barcode: String
  price: Money! compareAtPrice: Money position: Int! inventoryPolicy: ProductVariantInventoryPolicy!
  inventoryQuantity: Int availableForSale: Boolean! taxable: Boolean! createdAt: DateTime! updatedAt: DateTime!
  selectedOptions: [SelectedOption!]! product: Product! inventoryItem: InventoryItem!
}}
type InventoryItem implements Node {{
  id: ID! legacyResourceId: UnsignedInt64! sku: String tracked: Boolean! requiresShipping: Boolean!
  unitCost: MoneyV2 measurement: InventoryItemMeasurement! createdAt: DateTime! updatedAt: DateTime!
  variant: ProductVariant! inventoryLevels({CONNECTION_ARGS}, query: String): InventoryLevelConnection!
  inventoryLevel(locationId: ID!): InventoryLevel locationsCount: Count
}}
type InventoryQuantity {{ id: ID! name: String! quantity: Int! updatedAt: DateTime }}
type InventoryLevel implements Node {{
  id: ID! location: Location! item: InventoryItem! quantities(names: [String!]!): [InventoryQuantity!]!
  canDeactivate: Boolean! createdAt: DateTime! updatedAt: DateTime! {level_extra}
}}
type InventoryChange {{ name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location
  ledgerDocumentUri: String }}
type InventoryAdjustmentGroup implements Node {{ id: ID! createdAt: DateTime! reason: String!
  referenceDocumentUri: String changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]): [InventoryChange!]! }}

type MailingAddress implements Node {{ id: ID! firstName: String lastName: String name: String company: String
  address1: String address2: String city: String province: String provinceCode: String zip: String
  country: String countryCodeV2: CountryCode phone: String latitude: Float longitude: Float formatted: [String!]! }}
type CustomerEmailAddress {{ emailAddress: String! }}
type Customer implements Node {{ id: ID! legacyResourceId: UnsignedInt64! email: String
  defaultEmailAddress: CustomerEmailAddress firstName: String lastName: String displayName: String! phone: String
  tags: [String!]! createdAt: DateTime! updatedAt: DateTime! defaultAddress: MailingAddress }}
type Company implements Node {{ id: ID! name: String! externalId: String createdAt: DateTime! updatedAt: DateTime! }}
type CompanyLocation implements Node {{ id: ID! name: String! company: Company! }}
type PurchasingCompany {{ company: Company! location: CompanyLocation! }}
union PurchasingEntity = Customer | PurchasingCompany

type TaxLine {{ title: String! rate: Float ratePercentage: Float priceSet: MoneyBag! channelLiable: Boolean }}
interface DiscountApplication {{ index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType! value: PricingValue! }}
type DiscountCodeApplication implements DiscountApplication {{ index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType! value: PricingValue! code: String! }}
type ManualDiscountApplication implements DiscountApplication {{ index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType! value: PricingValue!
  title: String! description: String }}
type AutomaticDiscountApplication implements DiscountApplication {{ index: Int! allocationMethod: DiscountApplicationAllocationMethod!
  targetSelection: DiscountApplicationTargetSelection! targetType: DiscountApplicationTargetType! value: PricingValue! title: String! }}
type DiscountAllocation {{ allocatedAmountSet: MoneyBag! discountApplication: DiscountApplication! }}

type LineItem implements Node {{ id: ID! name: String! title: String! sku: String quantity: Int! currentQuantity: Int!
  unfulfilledQuantity: Int! refundableQuantity: Int! variant: ProductVariant product: Product vendor: String
  variantTitle: String taxable: Boolean! requiresShipping: Boolean! isGiftCard: Boolean!
  originalUnitPriceSet: MoneyBag! discountedUnitPriceSet: MoneyBag! originalTotalSet: MoneyBag!
  discountedTotalSet: MoneyBag! totalDiscountSet: MoneyBag! discountAllocations: [DiscountAllocation!]!
  taxLines(first: Int): [TaxLine!]! customAttributes: [Attribute!]! }}
type ShippingLine {{ id: ID title: String! code: String source: String carrierIdentifier: String custom: Boolean!
  isRemoved: Boolean! originalPriceSet: MoneyBag! discountedPriceSet: MoneyBag! taxLines: [TaxLine!]!
  discountAllocations: [DiscountAllocation!]! }}
type OrderTransaction implements Node {{ id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus!
  gateway: String amountSet: MoneyBag! processedAt: DateTime createdAt: DateTime! parentTransaction: OrderTransaction }}
type Job {{ id: ID! done: Boolean! }}

type FulfillmentOrderAssignedLocation {{ location: Location name: String! }}
type FulfillmentOrderLineItem implements Node {{ id: ID! totalQuantity: Int! remainingQuantity: Int! lineItem: LineItem!
  sku: String productTitle: String! variantTitle: String inventoryItemId: ID }}
type FulfillmentOrder implements Node {{ id: ID! status: FulfillmentOrderStatus! createdAt: DateTime! updatedAt: DateTime!
  orderId: ID! order: Order! assignedLocation: FulfillmentOrderAssignedLocation!
  lineItems({CONNECTION_ARGS}): FulfillmentOrderLineItemConnection! }}
type FulfillmentTrackingInfo {{ number: String url: URL company: String }}
type FulfillmentLineItem implements Node {{ id: ID! quantity: Int lineItem: LineItem! }}
type Fulfillment implements Node {{ id: ID! legacyResourceId: UnsignedInt64! name: String! status: FulfillmentStatus!
  createdAt: DateTime! updatedAt: DateTime! trackingInfo(first: Int): [FulfillmentTrackingInfo!]! location: Location
  order: Order! totalQuantity: Int! fulfillmentLineItems({CONNECTION_ARGS}): FulfillmentLineItemConnection! }}
type RefundLineItem {{ id: ID quantity: Int! restockType: RefundLineItemRestockType! restocked: Boolean!
  location: Location lineItem: LineItem! priceSet: MoneyBag! subtotalSet: MoneyBag! totalTaxSet: MoneyBag! }}
type Refund implements Node {{ id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime note: String
  totalRefundedSet: MoneyBag! order: Order! refundLineItems({CONNECTION_ARGS}): RefundLineItemConnection!
  transactions({CONNECTION_ARGS}): OrderTransactionConnection! }}

type Order implements Node {{
  id: ID! legacyResourceId: UnsignedInt64! name: String! createdAt: DateTime! updatedAt: DateTime!
  processedAt: DateTime! cancelledAt: DateTime cancelReason: OrderCancelReason closedAt: DateTime closed: Boolean!
  confirmed: Boolean! confirmationNumber: String test: Boolean! email: String phone: String note: String tags: [String!]!
  sourceName: String currencyCode: CurrencyCode! presentmentCurrencyCode: CurrencyCode! taxesIncluded: Boolean!
  taxExempt: Boolean! displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus! fullyPaid: Boolean! unpaid: Boolean!
  subtotalPriceSet: MoneyBag currentSubtotalPriceSet: MoneyBag! totalPriceSet: MoneyBag! currentTotalPriceSet: MoneyBag!
  totalTaxSet: MoneyBag currentTotalTaxSet: MoneyBag! totalDiscountsSet: MoneyBag currentTotalDiscountsSet: MoneyBag!
  totalShippingPriceSet: MoneyBag! totalRefundedSet: MoneyBag! totalRefundedShippingSet: MoneyBag!
  totalOutstandingSet: MoneyBag! totalReceivedSet: MoneyBag! totalCapturableSet: MoneyBag! totalWeight: UnsignedInt64
  subtotalLineItemsQuantity: Int! currentSubtotalLineItemsQuantity: Int!
  customer: Customer purchasingEntity: PurchasingEntity shippingAddress: MailingAddress billingAddress: MailingAddress
  taxLines: [TaxLine!]! discountCode: String discountCodes: [String!]!
  discountApplications({CONNECTION_ARGS}): DiscountApplicationConnection!
  shippingLines({CONNECTION_ARGS}, includeRemovals: Boolean = false): ShippingLineConnection!
  lineItems({CONNECTION_ARGS}): LineItemConnection!
  fulfillmentOrders({CONNECTION_ARGS}, displayable: Boolean = false, query: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]! refunds(first: Int): [Refund!]!
  transactions(first: Int): [OrderTransaction!]!
}}

type WebhookHttpEndpoint {{ callbackUrl: URL! }}
union WebhookSubscriptionEndpoint = WebhookHttpEndpoint
type WebhookSubscription implements Node {{ id: ID! legacyResourceId: UnsignedInt64! topic: WebhookSubscriptionTopic!
  format: WebhookSubscriptionFormat! includeFields: [String!]! filter: String metafieldNamespaces: [String!]!
  endpoint: WebhookSubscriptionEndpoint! callbackUrl: URL! uri: String! apiVersion: String!
  createdAt: DateTime! updatedAt: DateTime! }}

type BulkOperation implements Node {{ id: ID! status: BulkOperationStatus! errorCode: BulkOperationErrorCode
  objectCount: UnsignedInt64! rootObjectCount: UnsignedInt64! fileSize: UnsignedInt64 url: URL partialDataUrl: URL
  query: String! type: BulkOperationType! createdAt: DateTime! completedAt: DateTime }}

type Query {{
  shop: Shop!
  locations({CONNECTION_ARGS}, sortKey: LocationSortKeys = ID, query: String, includeLegacy: Boolean = false,
    includeInactive: Boolean = false): LocationConnection!
  location(id: ID): Location
  products({CONNECTION_ARGS}, sortKey: ProductSortKeys = ID, query: String): ProductConnection!
  product(id: ID!): Product
  productByHandle(handle: String!): Product
  productVariants({CONNECTION_ARGS}, sortKey: ProductVariantSortKeys = ID, query: String): ProductVariantConnection!
  productVariant(id: ID!): ProductVariant
  inventoryItems({CONNECTION_ARGS}, query: String): InventoryItemConnection!
  inventoryItem(id: ID!): InventoryItem
  inventoryLevel(id: ID!): InventoryLevel
  orders({CONNECTION_ARGS}, sortKey: OrderSortKeys = PROCESSED_AT, query: String): OrderConnection!
  order(id: ID!): Order
  fulfillmentOrder(id: ID!): FulfillmentOrder
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  webhookSubscriptions({CONNECTION_ARGS}, topics: [WebhookSubscriptionTopic!], format: WebhookSubscriptionFormat,
    callbackUrl: URL, uri: String): WebhookSubscriptionConnection!
  webhookSubscription(id: ID!): WebhookSubscription
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
}}

type UserError {{ field: [String!] message: String! }}
type InventorySetQuantitiesUserError {{ code: InventorySetQuantitiesUserErrorCode field: [String!] message: String! }}
type InventoryAdjustQuantitiesUserError {{ code: InventoryAdjustQuantitiesUserErrorCode field: [String!] message: String! }}
type ProductVariantsBulkUpdateUserError {{ code: ProductVariantsBulkUpdateUserErrorCode field: [String!] message: String! }}
type ProductVariantsBulkCreateUserError {{ code: ProductVariantsBulkCreateUserErrorCode field: [String!] message: String! }}
type ProductSetUserError {{ code: ProductSetUserErrorCode field: [String!] message: String! }}
type OrderCancelUserError {{ code: OrderCancelUserErrorCode field: [String!] message: String! }}
type BulkOperationUserError {{ code: BulkOperationUserErrorCode field: [String!] message: String! }}

input InventorySetQuantityInput {{ {" ".join(set_quantity_fields)} }}
input InventorySetQuantitiesInput {{ name: String! reason: String! referenceDocumentUri: String
  quantities: [InventorySetQuantityInput!]! {" ".join(set_input_extra)} }}
input InventoryChangeInput {{ {" ".join(adjust_change_fields)} }}
input InventoryAdjustQuantitiesInput {{ name: String! reason: String! referenceDocumentUri: String changes: [InventoryChangeInput!]! }}
input WeightInput {{ unit: WeightUnit! value: Float! }}
input InventoryItemMeasurementInput {{ weight: WeightInput }}
input InventoryItemInput {{ sku: String tracked: Boolean cost: Decimal requiresShipping: Boolean measurement: InventoryItemMeasurementInput }}
input VariantOptionValueInput {{ id: ID name: String optionId: ID optionName: String }}
input InventoryLevelInput {{ availableQuantity: Int! locationId: ID! }}
input ProductVariantsBulkInput {{ id: ID barcode: String compareAtPrice: Money price: Money inventoryPolicy: ProductVariantInventoryPolicy
  inventoryItem: InventoryItemInput inventoryQuantities: [InventoryLevelInput!] optionValues: [VariantOptionValueInput!]
  taxable: Boolean taxCode: String mediaId: ID mediaSrc: [String!] }}
input OptionValueCreateInput {{ name: String }}
input OptionCreateInput {{ name: String position: Int values: [OptionValueCreateInput!] }}
input OptionValueSetInput {{ id: ID name: String }}
input OptionSetInput {{ id: ID name: String position: Int values: [OptionValueSetInput!] }}
input ProductCreateInput {{ title: String handle: String status: ProductStatus vendor: String productType: String
  tags: [String!] descriptionHtml: String productOptions: [OptionCreateInput!] }}
input ProductInput {{ id: ID title: String handle: String status: ProductStatus vendor: String productType: String
  tags: [String!] descriptionHtml: String productOptions: [OptionCreateInput!] }}
input ProductSetInventoryInput {{ locationId: ID! name: String! quantity: Int! }}
input ProductVariantSetInput {{ id: ID sku: String barcode: String price: Money compareAtPrice: Money position: Int
  inventoryPolicy: ProductVariantInventoryPolicy taxable: Boolean optionValues: [VariantOptionValueInput!]!
  inventoryItem: InventoryItemInput inventoryQuantities: [ProductSetInventoryInput!] }}
input ProductSetInput {{ id: ID title: String handle: String status: ProductStatus vendor: String productType: String
  tags: [String!] descriptionHtml: String productOptions: [OptionSetInput!] variants: [ProductVariantSetInput!] }}
input ProductSetIdentifiers {{ id: ID handle: String }}
input FulfillmentOrderLineItemInput {{ id: ID! quantity: Int! }}
input FulfillmentOrderLineItemsInput {{ fulfillmentOrderId: ID! fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!] }}
input FulfillmentTrackingInput {{ number: String url: URL company: String numbers: [String!] urls: [URL!] }}
input FulfillmentOriginAddressInput {{ address1: String address2: String city: String zip: String provinceCode: String countryCode: String! }}
input FulfillmentInput {{ lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]! notifyCustomer: Boolean = false
  trackingInfo: FulfillmentTrackingInput originAddress: FulfillmentOriginAddressInput }}
input OrderCancelStoreCreditRefundInput {{ expiresAt: DateTime }}
input OrderCancelRefundMethodInput {{ originalPaymentMethodsRefund: Boolean storeCreditRefund: OrderCancelStoreCreditRefundInput }}
input WebhookSubscriptionInput {{ {" ".join(webhook_input)} }}

type InventorySetQuantitiesPayload {{ inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]! }}
type InventoryAdjustQuantitiesPayload {{ inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventoryAdjustQuantitiesUserError!]! }}
type InventoryActivatePayload {{ inventoryLevel: InventoryLevel userErrors: [UserError!]! }}
type ProductVariantsBulkUpdatePayload {{ product: Product productVariants: [ProductVariant!] userErrors: [ProductVariantsBulkUpdateUserError!]! }}
type ProductVariantsBulkCreatePayload {{ product: Product productVariants: [ProductVariant!] userErrors: [ProductVariantsBulkCreateUserError!]! }}
type ProductSetOperation implements Node {{ id: ID! status: ProductOperationStatus! product: Product userErrors: [ProductSetUserError!]! }}
type ProductSetPayload {{ product: Product productSetOperation: ProductSetOperation userErrors: [ProductSetUserError!]! }}
type ProductCreatePayload {{ product: Product userErrors: [UserError!]! }}
type FulfillmentCreatePayload {{ fulfillment: Fulfillment userErrors: [UserError!]! }}
type OrderCancelPayload {{ job: Job orderCancelUserErrors: [OrderCancelUserError!]! userErrors: [UserError!]! }}
type WebhookSubscriptionCreatePayload {{ webhookSubscription: WebhookSubscription userErrors: [UserError!]! }}
type WebhookSubscriptionDeletePayload {{ deletedWebhookSubscriptionId: ID userErrors: [UserError!]! }}
type BulkOperationRunQueryPayload {{ bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }}

type Mutation {{
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  inventoryAdjustQuantities(input: InventoryAdjustQuantitiesInput!): InventoryAdjustQuantitiesPayload
  inventoryActivate(inventoryItemId: ID!, locationId: ID!, available: Int, onHand: Int,
    stockAtLegacyLocation: Boolean = false): InventoryActivatePayload
  productVariantsBulkUpdate(productId: ID!, variants: [ProductVariantsBulkInput!]!,
    allowPartialUpdates: Boolean = false): ProductVariantsBulkUpdatePayload
  productVariantsBulkCreate(productId: ID!, variants: [ProductVariantsBulkInput!]!,
    strategy: ProductVariantsBulkCreateStrategy = DEFAULT): ProductVariantsBulkCreatePayload
  productSet(input: ProductSetInput!, synchronous: Boolean = true, identifier: ProductSetIdentifiers): ProductSetPayload
  productCreate(product: ProductCreateInput, input: ProductInput): ProductCreatePayload
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  orderCancel(orderId: ID!, reason: OrderCancelReason!, {cancel_refund}, restock: Boolean!,
    notifyCustomer: Boolean = false, staffNote: String): OrderCancelPayload
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
  bulkOperationRunQuery(query: String!, groupObjects: Boolean! = false): BulkOperationRunQueryPayload
}}
"""


@functools.lru_cache(maxsize=8)
def schema_for(version: str) -> GraphQLSchema:
    return build_schema(sdl(version))
